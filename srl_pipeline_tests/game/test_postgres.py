"""Lore and live game state in PostgreSQL (a real server; CI starts it, so no skipping)."""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.lore import parse_lore
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.sources import PostgresGameStateSource, PostgresLoreSource

from .conftest import species_lore

DSN = os.environ.get("SRL_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _drop(table: str) -> None:
    conn = psycopg2.connect(DSN)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    finally:
        conn.close()


@pytest.fixture
def table():
    name = f"srl_test_{uuid.uuid4().hex[:16]}"
    yield name
    _drop(name)


def _execute(query: str, table: str, params: tuple = ()) -> None:
    conn = psycopg2.connect(DSN)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL(query).format(table=sql.Identifier(table)), params)
    finally:
        conn.close()


def test_lore_round_trip(table):
    src = PostgresLoreSource(DSN, table)
    src.ensure_schema()
    src.ensure_schema()  # idempotent
    assert src.list_species() == [] and src.fingerprints() == {}
    ghast = parse_lore(species_lore("ghast"), "ghast/lore.yaml")
    assert src.upsert(ghast) == 14
    wight_records = species_lore("wight")["passages"]
    assert src.upsert(wight_records, species="wight") == 14
    assert src.list_species() == ["ghast", "wight"]

    loaded = src.load("ghast")
    assert loaded.species == "ghast" and loaded.source == f"postgresql:{table}[species=ghast]"
    assert sorted(loaded.passages, key=lambda p: p.id) == sorted(ghast.passages, key=lambda p: p.id)
    assert loaded.content_hash == ghast.content_hash
    assert {p.actions for p in loaded.by_kind("example_line")} == {("intimidate",)}
    assert src.load("wight").content_hash == parse_lore(species_lore("wight"), "x").content_hash

    fps = src.fingerprints()
    assert set(fps) == {"ghast", "wight"}
    assert src.fingerprints() == fps  # stable

    # change one passage: that species' fingerprint changes, the other's does not
    changed = species_lore("ghast")
    changed["passages"][4]["text"] = "A different text."
    assert src.upsert(changed["passages"], species="ghast") == 14
    after = src.fingerprints()
    assert after["ghast"] != fps["ghast"] and after["wight"] == fps["wight"]
    assert src.load("ghast").content_hash != ghast.content_hash
    # changing only the favoured actions also counts
    changed["passages"][4]["actions"] = ["soothe"]
    src.upsert(changed["passages"], species="ghast")
    assert src.fingerprints()["ghast"] != after["ghast"]
    # upsert replaces the species' rows (a dropped passage disappears)
    more = species_lore("ghast", n=13)
    assert src.upsert(more["passages"], species="ghast") == 13
    assert len(src.load("ghast").passages) == 13


def test_lore_errors(table):
    src = PostgresLoreSource(DSN, table)
    src.ensure_schema()
    with pytest.raises(GameDataError, match="no lore rows"):
        src.load("ghast")
    for bad in ["../x", "a/b", ""]:
        with pytest.raises(GameDataError):
            src.load(bad)
        with pytest.raises(GameDataError):
            src.upsert(species_lore()["passages"], species=bad)
    # rows with an invalid species name (written by someone else) are ignored
    _execute("INSERT INTO {table} (species, passage_id, kind, title, text) VALUES (%s, 'p', 'trait', 't', 'x')",
             table, ("Bad/Name",))
    assert src.list_species() == [] and src.fingerprints() == {}
    # invalid rows are reported with the table, species and field
    src.upsert(species_lore()["passages"], species="ghast")
    _execute("UPDATE {table} SET kind = 'rumour' WHERE species = 'ghast' AND passage_id = %s",
             table, (species_lore()["passages"][0]["id"],))
    with pytest.raises(GameDataError) as err:
        src.load("ghast")
    p = err.value.problems[0]
    assert p.file == f"postgresql:{table}[species=ghast]" and p.field == "kind" and "rumour" in p.message


def test_table_names_are_checked():
    with pytest.raises(ValueError):
        PostgresLoreSource(DSN, "x; DROP TABLE y").list_species()
    with pytest.raises(ValueError):
        PostgresGameStateSource(DSN, "a.b.c").active_events()


def test_schema_qualified_table(table):
    src = PostgresLoreSource(DSN, f"public.{table}")
    src.ensure_schema()
    src.upsert(species_lore()["passages"], species="ghast")
    assert src.list_species() == ["ghast"]


def test_game_state_events(table, rules, ruleset):
    src = PostgresGameStateSource(DSN, table)
    src.ensure_schema()
    src.ensure_schema()
    assert src.active_events() == []
    src.set_event("eclipse", True)
    src.set_event("blood_moon", True)
    assert src.active_events() == ["blood_moon", "eclipse"]
    src.set_event("eclipse", False)
    src.set_event("eclipse", False)
    assert src.active_events() == ["blood_moon"]
    assert RuleSet.resolve(rules, src.active_events()).version == RuleSet.resolve(rules, ["blood_moon"]).version
    src.set_event("blood_moon", False)
    assert RuleSet.resolve(rules, src.active_events()).version == ruleset.version
    src.set_event("solar_flare", True)  # the table accepts anything; resolving names the unknown event
    with pytest.raises(GameDataError, match="solar_flare"):
        RuleSet.resolve(rules, src.active_events())
