"""Where lore, rules and the live game state come from: files by default, PostgreSQL when configured.

Every source returns the same validated domain objects, and exposes cheap per-species
fingerprints so the lore-change sensor can notice new and changed species without parsing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from ..core.validation import IDENTIFIER_PATTERN
from ..core.yaml_files import confine, read_capped
from .documents import decode_yaml, read_yaml
from .errors import GameDataError, Problem
from .lore import SpeciesLore, parse_lore
from .names import SPECIES_NAME, validate_species_name
from .rules import SpeciesRules, World, load_species_rules, load_world
from .schemas import MAX_EVENTS, MAX_PASSAGES, check_game_state_shape

LORE_FILE = "lore.yaml"
RULES_FILE = "rules.yaml"


class LoreSource(Protocol):
    def list_species(self) -> list[str]: ...
    def load(self, species: str) -> SpeciesLore: ...
    def fingerprints(self) -> dict[str, str]: ...


class GameStateSource(Protocol):
    label: str  # the file or table, for messages

    def active_events(self) -> list[str]: ...


@dataclass(frozen=True)
class GameFiles:
    """The file layout of the game data (configs/game by default)."""

    root: Path

    @property
    def world_path(self) -> Path:
        return self.root / "world.yaml"

    @property
    def game_state_path(self) -> Path:
        return self.root / "game_state.yaml"

    def species_dir(self, species: str) -> Path:
        return self.root / "species" / validate_species_name(species, str(self.root / "species"))

    def lore_path(self, species: str) -> Path:
        return self.species_dir(species) / LORE_FILE

    def rules_path(self, species: str) -> Path:
        return self.species_dir(species) / RULES_FILE

    def candidate_dirs(self) -> list[Path]:
        base = self.root / "species"
        return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def _escapes(self, path: Path) -> bool:
        """True when ``path`` (a species folder or one of its files) resolves outside the data root."""
        try:
            confine(path, self.root, GameDataError)
        except GameDataError:
            return True
        return False

    def list_species(self) -> list[str]:
        """Species with a lore file whose folder name is a valid species name and that stay inside the
        data root (others: see invalid_species)."""
        return [p.name for p in self.candidate_dirs() if SPECIES_NAME.match(p.name) and (p / LORE_FILE).is_file()
                and not self._escapes(p) and not self._escapes(p / LORE_FILE)]

    def invalid_species(self) -> list[Problem]:
        """Species folders that are not used, each with why: a name that is not a plain identifier, or
        a folder or lore/rules file that resolves outside the data root (a symlink escape)."""
        out = []
        for p in self.candidate_dirs():
            if not SPECIES_NAME.match(p.name):
                out.append(Problem(str(p), repr(p.name), "species", "folder name is not a plain identifier (^[a-z][a-z0-9_]{0,39}$)"))
                continue
            for target in (p, p / LORE_FILE, p / RULES_FILE):
                if (target == p or target.exists() or target.is_symlink()) and self._escapes(target):
                    out.append(Problem(str(target), repr(p.name), "<path>",
                                       f"resolves outside the data root {self.root.resolve()} (symlink or '..'); not read"))
                    break
        return out

    def read(self, path: Path) -> dict[str, Any]:
        """One game YAML file, confined to the data root."""
        return read_yaml(path, self.root)

    def load_world(self) -> World:
        return load_world(self.world_path, self.root)

    def game_state(self) -> "FileGameStateSource":
        return FileGameStateSource(self.game_state_path, self.root)

    def load_rules(self, species: str, world: World | None = None) -> SpeciesRules:
        path = self.rules_path(species)
        if not path.is_file():
            raise GameDataError.single(str(path), "<file>", "<content>", "rules file is missing")
        return load_species_rules(path, world or self.load_world(), expected_species=species, root=self.root)

    def rules_fingerprint(self, species: str) -> str:
        h = hashlib.sha256(read_capped(self.world_path, GameDataError, root=self.root) if self.world_path.is_file() else b"")
        path = self.rules_path(species)
        h.update(read_capped(path, GameDataError, root=self.root) if path.is_file() else b"")
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class FileLoreSource:
    files: GameFiles

    def list_species(self) -> list[str]:
        return self.files.list_species()

    def load(self, species: str) -> SpeciesLore:
        path = self.files.lore_path(species)
        if not path.is_file():
            raise GameDataError.single(str(path), "<file>", "<content>", "lore file is missing")
        return parse_lore(self.files.read(path), str(path), expected_species=species)

    def fingerprints(self) -> dict[str, str]:
        """Cheap per-species hashes for the lore-change sensor; an unreadable file (too big, gone) gets
        a marker instead of crashing the sensor, so its run is requested and fails with the reason."""
        out = {}
        for s in self.list_species():
            try:
                raw = read_capped(self.files.lore_path(s), GameDataError, root=self.files.root)
            except GameDataError as exc:
                raw = f"unreadable: {exc}".encode()
            out[s] = hashlib.sha256(raw).hexdigest()[:16]
        return out


@dataclass(frozen=True)
class FileGameStateSource:
    path: Path
    root: Path | None = None  # the data root the file must stay inside

    @property
    def label(self) -> str:
        return str(self.path)

    def active_events(self) -> list[str]:
        """The live world events (no file: none); the file's shape is checked by its schema."""
        if not self.path.is_file() and not self.path.is_symlink():
            return []
        raw = decode_yaml(read_capped(self.path, GameDataError, root=self.root), str(self.path))
        return sorted(set(check_game_state_shape(raw, str(self.path)).events))


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------
LORE_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    species     text        NOT NULL,
    passage_id  text        NOT NULL,
    kind        text        NOT NULL,
    title       text        NOT NULL,
    text        text        NOT NULL,
    actions     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (species, passage_id)
)"""

GAME_STATE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    event       text        PRIMARY KEY,
    active      boolean     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
)"""


def _connect(dsn: str):
    import psycopg2

    return psycopg2.connect(dsn)


def _table(name: str):
    from psycopg2 import sql

    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"invalid table name {name!r}")
    return sql.SQL(".").join(sql.Identifier(p) for p in parts)


@dataclass(frozen=True)
class PostgresLoreSource:
    """Lore in a PostgreSQL table (one row per passage); the project creates the schema."""

    dsn: str
    table: str = "srl_lore_passages"

    def ensure_schema(self) -> None:
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL(LORE_TABLE_DDL).format(table=_table(self.table)))
        finally:
            conn.close()

    def _query(self, query: str, params: tuple = ()) -> list[tuple]:
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL(query).format(table=_table(self.table)), params)
                return cur.fetchall()
        finally:
            conn.close()

    def _label(self, species: str) -> str:
        return f"postgresql:{self.table}[species={species}]"

    def list_species(self) -> list[str]:
        return [s for (s,) in self._query("SELECT DISTINCT species FROM {table} ORDER BY species") if SPECIES_NAME.match(s)]

    def load(self, species: str) -> SpeciesLore:
        validate_species_name(species, self._label(species))
        rows = self._query("SELECT passage_id, kind, title, text, actions FROM {table} WHERE species = %s "
                           "ORDER BY passage_id LIMIT %s", (species, MAX_PASSAGES + 1))
        if not rows:
            raise GameDataError.single(self._label(species), "<table>", "species", "no lore rows for this species")
        passages = [{"id": pid, "kind": kind, "title": title, "text": text, "actions": actions if actions is not None else []}
                    for pid, kind, title, text, actions in rows]
        return parse_lore({"species": species, "passages": passages}, self._label(species), expected_species=species)

    def fingerprints(self) -> dict[str, str]:
        rows = self._query("SELECT species, passage_id, kind, title, text, actions::text FROM {table} ORDER BY species, passage_id")
        hashes: dict[str, Any] = {}
        for species, *rest in rows:
            if SPECIES_NAME.match(species):
                hashes.setdefault(species, hashlib.sha256()).update(json.dumps(rest).encode())
        return {s: h.hexdigest()[:16] for s, h in hashes.items()}

    def upsert(self, lore: SpeciesLore | Iterable[dict[str, Any]], species: str | None = None) -> int:
        """Replace one species' passages atomically (one transaction)."""
        from psycopg2 import sql
        from psycopg2.extras import Json

        if isinstance(lore, SpeciesLore):
            species, records = lore.species, [p.to_dict() for p in lore.passages]
        else:
            records = list(lore)
        validate_species_name(species, self._label(str(species)))
        conn = _connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL("DELETE FROM {table} WHERE species = %s").format(table=_table(self.table)), (species,))
                for r in records:
                    cur.execute(sql.SQL("INSERT INTO {table} (species, passage_id, kind, title, text, actions) "
                                        "VALUES (%s, %s, %s, %s, %s, %s)").format(table=_table(self.table)),
                                (species, r["id"], r["kind"], r["title"], r["text"], Json(list(r.get("actions", [])))))
        finally:
            conn.close()
        return len(records)


@dataclass(frozen=True)
class PostgresGameStateSource:
    """Live world events in a PostgreSQL table that the game server updates."""

    dsn: str
    table: str = "srl_game_state"

    def ensure_schema(self) -> None:
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL(GAME_STATE_DDL).format(table=_table(self.table)))
        finally:
            conn.close()

    def set_event(self, event: str, active: bool) -> None:
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL("INSERT INTO {table} (event, active) VALUES (%s, %s) ON CONFLICT (event) "
                                    "DO UPDATE SET active = EXCLUDED.active, updated_at = now()").format(table=_table(self.table)),
                            (event, active))
        finally:
            conn.close()

    @property
    def label(self) -> str:
        return f"postgresql:{self.table}"

    def active_events(self) -> list[str]:
        """The active events; each row is checked like the file's events (an identifier, at most
        MAX_EVENTS of them), every bad row reported together."""
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT event FROM {table} WHERE active ORDER BY event LIMIT %s").format(
                    table=_table(self.table)), (MAX_EVENTS + 1,))
                events = [e for (e,) in cur.fetchall()]
        finally:
            conn.close()
        if len(events) > MAX_EVENTS:
            raise GameDataError.single(self.label, "<table>", "event", f"more than {MAX_EVENTS} active events")
        problems = [Problem(self.label, f"row event={e[:60]!r}", "event", "not an identifier (^[A-Za-z_][A-Za-z0-9_]{0,63}$)")
                    for e in events if not re.match(IDENTIFIER_PATTERN, e)]
        if problems:
            raise GameDataError(problems)
        return events
