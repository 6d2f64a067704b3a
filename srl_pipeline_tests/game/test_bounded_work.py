"""Bounded work by construction: the contradiction check never enumerates an int range, and the
schema bounds every range and product the simulator and the warm-up do enumerate."""

from __future__ import annotations

import pytest

from srl_pipeline.game.conditions import Atom, VarSpec, allowed_values
from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.rules import parse_species_rules

from .conftest import species_rules

HUGE = VarSpec("grudges", "int", (), -10**15, 10**15, 0)


@pytest.mark.parametrize("atoms, empty", [
    ([Atom("grudges", "gte", 10**14), Atom("grudges", "lte", 10**14 - 1)], True),
    ([Atom("grudges", "gte", 5), Atom("grudges", "not", frozenset({5, 6, 7}))], False),
    ([Atom("grudges", "gte", 5), Atom("grudges", "lte", 6), Atom("grudges", "not", frozenset({5, 6}))], True),
    ([Atom("grudges", "in", frozenset({1, 2})), Atom("grudges", "gte", 2)], False),
    ([Atom("grudges", "eq", 3), Atom("grudges", "not", 3)], True),
])
def test_int_contradictions_are_found_without_enumerating_the_range(atoms, empty):
    allowed = allowed_values(atoms, HUGE)
    assert (not allowed) is empty
    assert len(allowed) <= len(atoms) + 2  # witnesses, never the range


def test_small_int_ranges_give_the_same_answer_as_enumeration():
    spec = VarSpec("trust", "int", (), 0, 5, 0)
    atoms = [Atom("trust", "gte", 2), Atom("trust", "not", frozenset({2, 3}))]
    by_enumeration = {v for v in range(0, 6) if v >= 2 and v not in {2, 3}}
    assert allowed_values(atoms, spec) and allowed_values(atoms, spec) <= by_enumeration


def test_rules_with_an_enormous_int_bound_or_call_product_are_refused_by_the_schema(world):
    raw = species_rules()
    raw["state"]["hunger"] = {"type": "int", "min": 0, "max": 10**6, "default": 1}
    raw["actions"][0]["params"] = {f"p{i}": [f"v{j}" for j in range(10)] for i in range(4)}
    with pytest.raises(GameDataError) as err:
        parse_species_rules(raw, "r.yaml", world)
    text = str(err.value)
    assert "r.yaml: record <file>: field state.hunger: an int variable spans at most 1000 values" in text
    assert "field params: the parameters allow 10000 calls; at most 256 per action" in text


def test_lore_fingerprints_survive_an_oversized_file(tmp_path):
    from srl_pipeline.game.sources import FileLoreSource

    from .conftest import make_game_root

    files = make_game_root(tmp_path)
    source = FileLoreSource(files)
    before = source.fingerprints()
    lore = files.lore_path("ghast")
    lore.write_bytes(lore.read_bytes() + b"# pad\n" * 200_000)
    after = source.fingerprints()
    assert set(after) == set(before) and after["ghast"] != before["ghast"]
