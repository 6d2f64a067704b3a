"""Where lore, rules and the live game state come from: files by default, PostgreSQL when configured.

Every source returns the same validated domain objects, and exposes cheap per-species
fingerprints so the lore-change sensor can notice new and changed species without parsing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from .documents import decode_yaml, read_yaml
from .errors import GameDataError, Problem
from .lore import SpeciesLore, parse_lore
from .names import SPECIES_NAME, validate_species_name
from .rules import SpeciesRules, World, load_species_rules, load_world

LORE_FILE = "lore.yaml"
RULES_FILE = "rules.yaml"


class LoreSource(Protocol):
    def list_species(self) -> list[str]: ...
    def load(self, species: str) -> SpeciesLore: ...
    def fingerprints(self) -> dict[str, str]: ...


class GameStateSource(Protocol):
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

    def list_species(self) -> list[str]:
        """Species with a lore file whose folder name is a valid species name (others: see invalid_species)."""
        return [p.name for p in self.candidate_dirs() if SPECIES_NAME.match(p.name) and (p / LORE_FILE).is_file()]

    def invalid_species(self) -> list[Problem]:
        return [Problem(str(p), repr(p.name), "species", "folder name is not a plain identifier (^[a-z][a-z0-9_]{0,39}$)")
                for p in self.candidate_dirs() if not SPECIES_NAME.match(p.name)]

    def load_world(self) -> World:
        return load_world(self.world_path)

    def load_rules(self, species: str, world: World | None = None) -> SpeciesRules:
        path = self.rules_path(species)
        if not path.is_file():
            raise GameDataError.single(str(path), "<file>", "<content>", "rules file is missing")
        return load_species_rules(path, world or self.load_world(), expected_species=species)

    def rules_fingerprint(self, species: str) -> str:
        h = hashlib.sha256(self.world_path.read_bytes())
        path = self.rules_path(species)
        h.update(path.read_bytes() if path.is_file() else b"")
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
        return parse_lore(read_yaml(path), str(path), expected_species=species)

    def fingerprints(self) -> dict[str, str]:
        return {s: hashlib.sha256(self.files.lore_path(s).read_bytes()).hexdigest()[:16] for s in self.list_species()}


@dataclass(frozen=True)
class FileGameStateSource:
    path: Path

    def active_events(self) -> list[str]:
        if not self.path.is_file():
            return []
        raw = decode_yaml(self.path.read_bytes(), str(self.path))
        events = raw.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise GameDataError.single(str(self.path), "<file>", "events", "expected a list of event names")
        return sorted(set(events))


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
        rows = self._query("SELECT passage_id, kind, title, text, actions FROM {table} WHERE species = %s ORDER BY passage_id", (species,))
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

    def active_events(self) -> list[str]:
        from psycopg2 import sql

        conn = _connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT event FROM {table} WHERE active ORDER BY event").format(table=_table(self.table)))
                return [e for (e,) in cur.fetchall()]
        finally:
            conn.close()
