"""Species lore: passages about traits, abilities, weaknesses, taboos, voice and example lines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.hashing import content_hash
from .documents import read_yaml
from .errors import GameDataError, ProblemLog
from .names import IDENTIFIER, SPECIES_NAME

LORE_KINDS = ("trait", "ability", "weakness", "taboo", "voice", "example_line", "history")
REQUIRED_KINDS = ("trait", "ability", "weakness", "taboo", "voice", "example_line")
MIN_PASSAGES = 12
PASSAGE_ID = r"^[a-z0-9][a-z0-9_\-]{0,79}$"


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
    """Validate a lore mapping (`species`, `passages`); problems name file, passage and field."""
    import re

    id_re = re.compile(PASSAGE_ID)
    log = ProblemLog(file)
    species = raw.get("species")
    if not isinstance(species, str) or not SPECIES_NAME.match(species):
        raise GameDataError.single(file, "<file>", "species", f"{species!r} is not a plain identifier (^[a-z][a-z0-9_]{{0,39}}$)")
    if expected_species is not None and species != expected_species:
        log.add("<file>", "species", f"says {species!r} but the file belongs to species {expected_species!r}")
    passages_raw = raw.get("passages")
    if not isinstance(passages_raw, list):
        log.add("<file>", "passages", "missing required field (a list of passages)" if passages_raw is None
                else f"expected a list, got {type(passages_raw).__name__}")
        log.raise_if_any()
    passages: list[Passage] = []
    seen: set[str] = set()
    for i, p in enumerate(passages_raw):
        record = f"passages[{i}]"
        if not isinstance(p, dict):
            log.add(record, "<record>", "expected a mapping")
            continue
        pid = p.get("id")
        if isinstance(pid, str):
            record = f"passages[{i}] ({pid})"
        ok = True
        for key in ("id", "kind", "title", "text"):
            if key not in p:
                log.add(record, key, "missing required field")
                ok = False
            elif not isinstance(p[key], str):
                log.add(record, key, f"expected str, got {type(p[key]).__name__} {p[key]!r}")
                ok = False
            elif not p[key].strip():
                log.add(record, key, "must not be empty")
                ok = False
        if not ok:
            continue
        if not id_re.match(pid):
            log.add(record, "id", f"passage ids match {PASSAGE_ID}")
            continue
        if pid in seen:
            log.add(record, "id", f"duplicate passage id {pid!r}")
            continue
        seen.add(pid)
        if p["kind"] not in LORE_KINDS:
            log.add(record, "kind", f"unknown kind {p['kind']!r} (expected one of {LORE_KINDS})")
            continue
        actions = p.get("actions", [])
        if not isinstance(actions, list) or not all(isinstance(a, str) and IDENTIFIER.match(a) for a in actions):
            log.add(record, "actions", "expected a list of action names")
            continue
        extra = set(p) - {"id", "kind", "title", "text", "actions"}
        if extra:
            log.add(record, sorted(extra)[0], "unknown field")
            continue
        passages.append(Passage(pid, p["kind"], p["title"].strip(), p["text"].strip(), tuple(actions)))
    if not log.problems:
        if len(passages) < MIN_PASSAGES:
            log.add("<file>", "passages", f"at least {MIN_PASSAGES} passages are needed, got {len(passages)}")
        missing = [k for k in REQUIRED_KINDS if not any(p.kind == k for p in passages)]
        if missing:
            log.add("<file>", "passages", f"missing passage kind(s) {missing}")
    log.raise_if_any()
    return SpeciesLore(species, tuple(passages), file)


def load_lore(path: Path, expected_species: str | None = None) -> SpeciesLore:
    return parse_lore(read_yaml(path), str(path), expected_species)


def check_lore_against_rules(lore: SpeciesLore, action_names: set[str]) -> None:
    """Lore may only favour actions that exist in the species' catalogue."""
    log = ProblemLog(lore.source)
    for i, p in enumerate(lore.passages):
        unknown = [a for a in p.actions if a not in action_names]
        if unknown:
            log.add(f"passages[{i}] ({p.id})", "actions", f"unknown action(s) {unknown}")
    log.raise_if_any()
