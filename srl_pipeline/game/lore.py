"""Species lore: passages about traits, abilities, weaknesses, taboos, voice and example lines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.hashing import content_hash
from .documents import read_yaml
from .errors import ProblemLog
from .schemas import LORE_KINDS, PASSAGE_ID, check_lore_shape

REQUIRED_KINDS = ("trait", "ability", "weakness", "taboo", "voice", "example_line")
MIN_PASSAGES = 12


@dataclass(frozen=True)
class Passage:
    id: str
    kind: str
    title: str
    text: str
    actions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["actions"] = list(self.actions)
        return d


@dataclass(frozen=True)
class SpeciesLore:
    species: str
    passages: tuple[Passage, ...]
    source: str

    @property
    def content_hash(self) -> str:
        return lore_hash(self.species, self.passages)

    def by_kind(self, kind: str) -> list[Passage]:
        return [p for p in self.passages if p.kind == kind]

    def to_records(self) -> list[dict[str, Any]]:
        return [dict(species=self.species, **p.to_dict()) for p in self.passages]


def lore_hash(species: str, passages: tuple[Passage, ...] | list[Passage]) -> str:
    return content_hash({"species": species, "passages": sorted((p.to_dict() for p in passages), key=lambda d: d["id"])})[:16]


def parse_lore(raw: dict[str, Any], file: str, expected_species: str | None = None) -> SpeciesLore:
    """Validate a lore mapping (`species`, `passages`): its shape and bounds through the schema
    (:class:`.schemas.LoreSchema`), then unique ids and completeness; problems name file, passage
    and field."""
    shape = check_lore_shape(raw, file)
    log = ProblemLog(file)
    if expected_species is not None and shape.species != expected_species:
        log.add("<file>", "species", f"says {shape.species!r} but the file belongs to species {expected_species!r}")
    passages: list[Passage] = []
    seen: set[str] = set()
    for i, p in enumerate(shape.passages):
        if p.id in seen:
            log.add(f"passages[{i}] ({p.id})", "id", f"duplicate passage id {p.id!r}")
            continue
        seen.add(p.id)
        passages.append(Passage(p.id, p.kind, p.title.strip(), p.text.strip(), tuple(p.actions)))
    if not log.problems:
        if len(passages) < MIN_PASSAGES:
            log.add("<file>", "passages", f"at least {MIN_PASSAGES} passages are needed, got {len(passages)}")
        missing = [k for k in REQUIRED_KINDS if not any(p.kind == k for p in passages)]
        if missing:
            log.add("<file>", "passages", f"missing passage kind(s) {missing}")
    log.raise_if_any()
    return SpeciesLore(shape.species, tuple(passages), file)


def load_lore(path: Path, expected_species: str | None = None, root: Path | None = None) -> SpeciesLore:
    return parse_lore(read_yaml(path, root), str(path), expected_species)


def check_lore_against_rules(lore: SpeciesLore, action_names: set[str]) -> None:
    """Lore may only favour actions that exist in the species' catalogue."""
    log = ProblemLog(lore.source)
    for i, p in enumerate(lore.passages):
        unknown = [a for a in p.actions if a not in action_names]
        if unknown:
            log.add(f"passages[{i}] ({p.id})", "actions", f"unknown action(s) {unknown}")
    log.raise_if_any()
