"""The game-data asset checks' pass/fail rules, called directly on small hand-made values.

Each check gets the real artifact built from the shipped vampire data (it passes), then copies
with exactly one rule broken (it fails, and its result sentence says why).
"""

from __future__ import annotations

import collections

import pytest

from srl_pipeline.defs.game import checks
from srl_pipeline.defs.game.resources import QualitySettings
from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.lore import REQUIRED_KINDS, Passage, SpeciesLore
from srl_pipeline.game.lore_index import LoreIndex
from srl_pipeline.game.rules import MIN_ACTIONS, RuleSet, parse_species_rules, parse_world, ruleset_to_artifact
from srl_pipeline.game.scenarios import held_out_combos, ScenarioSpec

from .. import check_inputs as ci
from ..check_inputs import result_text

QUALITY = QualitySettings(min_lore_passages=12, min_split_sizes={"train": 10, "validation": 1, "test": 3})


def _first(records: list[dict], **match) -> dict:
    return next(r for r in records if all(r[k] == v for k, v in match.items()))


# -- lore_schema ------------------------------------------------------------------------------
def test_lore_schema_passes_on_the_shipped_lore():
    r = checks.lore_schema(monster_lore=ci.monster_lore())
    assert r.passed, result_text(r)
    assert result_text(r) == "all expectations met"
    assert r.metadata["expectations_failed"].value == 0


def _duplicate_id(lore):
    lore["passages"][1]["id"] = lore["passages"][0]["id"]


def _unknown_kind(lore):
    lore["passages"][0]["kind"] = "gossip"


def _short_text(lore):
    lore["passages"][0]["text"] = "Too short"


def _long_text(lore):
    lore["passages"][0]["text"] = "x" * 2001


def _no_title(lore):
    lore["passages"][0]["title"] = None


def _no_id(lore):
    lore["passages"][0]["id"] = None


def _no_passages(lore):
    lore["passages"] = []


@pytest.mark.parametrize("break_it, fragment", [
    (_duplicate_id, "expect_column_values_to_be_unique(id)"),
    (_unknown_kind, "expect_column_values_to_be_in_set(kind)"),
    (_short_text, "expect_column_values_to_be_between(text_length)"),
    (_long_text, "expect_column_values_to_be_between(text_length)"),
    (_no_title, "expect_column_values_to_not_be_null(title)"),
    (_no_id, "expect_column_values_to_not_be_null(id)"),
    (_no_passages, "expect_table_row_count_to_be_between"),
])
def test_lore_schema_fails_on_a_broken_record(break_it, fragment):
    lore = ci.monster_lore()
    break_it(lore)
    r = checks.lore_schema(monster_lore=lore)
    assert not r.passed
    assert fragment in result_text(r)
    assert r.metadata["expectations_failed"].value >= 1


def test_lore_schema_names_the_duplicated_id():
    lore = ci.monster_lore()
    _duplicate_id(lore)
    r = checks.lore_schema(monster_lore=lore)
    assert lore["passages"][0]["id"] in result_text(r)


# -- lore_completeness ------------------------------------------------------------------------
def test_lore_completeness_passes_on_the_shipped_lore():
    lore = ci.monster_lore()
    r = checks.lore_completeness(monster_lore=lore, quality=QUALITY)
    assert r.passed, result_text(r)
    assert f"{len(lore['passages'])} passages (min 12); missing kinds: none" == result_text(r)


@pytest.mark.parametrize("kind", REQUIRED_KINDS)
def test_lore_completeness_fails_when_a_required_kind_is_missing(kind):
    lore = ci.monster_lore()
    lore["passages"] = [p for p in lore["passages"] if p["kind"] != kind]
    r = checks.lore_completeness(monster_lore=lore, quality=QualitySettings(min_lore_passages=1))
    assert not r.passed
    assert f"missing kinds: ['{kind}']" in result_text(r)
    assert r.metadata["missing_kinds"].value == [kind]


def test_lore_completeness_fails_below_the_minimum_passage_count():
    lore = ci.monster_lore()
    n = len(lore["passages"])
    at_minimum = checks.lore_completeness(monster_lore=lore, quality=QualitySettings(min_lore_passages=n))
    assert at_minimum.passed, result_text(at_minimum)
    r = checks.lore_completeness(monster_lore=lore, quality=QualitySettings(min_lore_passages=n + 1))
    assert not r.passed
    assert f"{n} passages (min {n + 1}); missing kinds: none" == result_text(r)


def test_lore_completeness_ignores_the_optional_history_kind():
    lore = ci.monster_lore()
    lore["passages"] = [p for p in lore["passages"] if p["kind"] != "history"]
    r = checks.lore_completeness(monster_lore=lore, quality=QualitySettings(min_lore_passages=1))
    assert r.passed, result_text(r)


# -- lore_index_retrieves ---------------------------------------------------------------------
def test_lore_index_retrieves_passes_on_its_own_lore():
    r = checks.lore_index_retrieves(lore_index=ci.lore_index(), monster_lore=ci.monster_lore())
    assert r.passed, result_text(r)
    assert result_text(r).startswith("self-retrieval@3 ")
    assert r.metadata["self_retrieval_at_3"].value >= 0.9


def test_lore_index_retrieves_fails_when_the_lore_lost_a_passage():
    lore = ci.monster_lore()
    lore["passages"] = lore["passages"][1:]
    r = checks.lore_index_retrieves(lore_index=ci.lore_index(), monster_lore=lore)
    assert not r.passed
    assert "index is stale" in result_text(r)


def test_lore_index_retrieves_fails_when_the_lore_hash_differs():
    lore = ci.monster_lore()
    lore["lore_hash"] = "0" * 16
    r = checks.lore_index_retrieves(lore_index=ci.lore_index(), monster_lore=lore)
    assert not r.passed
    assert "lore hash differ" in result_text(r)


def _indistinguishable_lore(n: int = 10) -> tuple[dict, dict]:
    """n passages with the same title and text: a query finds 3 of them at most."""
    passages = tuple(Passage(f"twin-{i:02d}", "trait", "Pale twin", "The same pale twin stands in the mist.")
                     for i in range(n))
    lore = SpeciesLore("vampire", passages, "test")
    artifact = {"species": "vampire", "lore_hash": lore.content_hash, "source": "test", "passages": lore.to_records()}
    return LoreIndex.build(lore).to_dict(), artifact


def test_lore_index_retrieves_fails_below_ninety_percent_self_retrieval():
    index, lore = _indistinguishable_lore(10)
    r = checks.lore_index_retrieves(lore_index=index, monster_lore=lore)
    assert not r.passed
    assert result_text(r) == "self-retrieval@3 30.00%"
    assert r.metadata["self_retrieval_at_3"].value == 0.3


# -- rules_valid ------------------------------------------------------------------------------
def test_rules_valid_passes_on_the_shipped_rules():
    rules = ci.game_rules()
    r = checks.rules_valid(game_rules=rules)
    assert r.passed, result_text(r)
    assert "13 actions in force (min 8), 4 goals (min 4)" == result_text(r)
    assert r.metadata["rules_version"].text == rules["rules_version"]


def _rules_with_events_that_switch_off(n_off: int, event: str = "eclipse") -> dict:
    """The vampire rules with the last `n_off` actions switched off by a live event."""
    art = ci.game_rules()
    raw = art["rules"]
    for action in raw["actions"][-n_off:]:
        action["inactive_if"] = {"events": [event]}
    world = parse_world(art["world"], art["world_file"])
    rules = parse_species_rules(raw, art["rules_file"], world, expected_species=art["species"])
    return ruleset_to_artifact(RuleSet.resolve(rules, [event]))


def test_rules_valid_fails_when_events_leave_too_few_actions_in_force():
    n = len(ci.ruleset().actions)
    just_enough = checks.rules_valid(game_rules=_rules_with_events_that_switch_off(n - MIN_ACTIONS))
    assert just_enough.passed, result_text(just_enough)
    r = checks.rules_valid(game_rules=_rules_with_events_that_switch_off(n - MIN_ACTIONS + 1))
    assert not r.passed
    assert f"{MIN_ACTIONS - 1} actions in force (min {MIN_ACTIONS})" in result_text(r)


def test_rules_valid_errors_on_a_rules_version_mismatch():
    rules = ci.game_rules()
    rules["rules_version"] = "0" * 16
    with pytest.raises(GameDataError, match="rules_version"):
        checks.rules_valid(game_rules=rules)


# -- lore_matches_rules -----------------------------------------------------------------------
def test_lore_matches_rules_passes_on_the_shipped_data():
    r = checks.lore_matches_rules(game_rules=ci.game_rules(), monster_lore=ci.monster_lore())
    assert r.passed, result_text(r)
    assert result_text(r) == "unknown actions in lore: none; actions without example lines: none"


def test_lore_matches_rules_fails_on_an_action_outside_the_catalogue():
    lore = ci.monster_lore()
    lore["passages"][0]["actions"] = [*lore["passages"][0]["actions"], "teleport"]
    r = checks.lore_matches_rules(game_rules=ci.game_rules(), monster_lore=lore)
    assert not r.passed
    assert "unknown actions in lore: ['teleport']; actions without example lines: none" == result_text(r)
    assert r.metadata["unknown_actions"].value == ["teleport"]


def test_lore_matches_rules_fails_on_an_action_without_an_example_line():
    lore = ci.monster_lore()
    for p in lore["passages"]:
        if p["kind"] == "example_line":
            p["actions"] = [a for a in p["actions"] if a != "feed"]
    r = checks.lore_matches_rules(game_rules=ci.game_rules(), monster_lore=lore)
    assert not r.passed
    assert "unknown actions in lore: none; actions without example lines: ['feed']" == result_text(r)


def test_lore_matches_rules_only_counts_example_line_passages():
    """Mentioning an action in another kind of passage is not an example line for it."""
    lore = ci.monster_lore()
    for p in lore["passages"]:
        if p["kind"] == "example_line":
            p["actions"] = [a for a in p["actions"] if a != "feed"]
    _first(lore["passages"], kind="trait")["actions"].append("feed")
    r = checks.lore_matches_rules(game_rules=ci.game_rules(), monster_lore=lore)
    assert not r.passed
    assert "actions without example lines: ['feed']" in result_text(r)


# -- scenarios_schema -------------------------------------------------------------------------
def test_scenarios_schema_passes_on_generated_scenarios():
    r = checks.scenarios_schema(scenarios=ci.scenarios(), game_rules=ci.game_rules())
    assert r.passed, result_text(r)
    assert result_text(r) == "all expectations met"


def _dup_scenario_id(sc, rules):
    sc["scenarios"][1]["id"] = sc["scenarios"][0]["id"]


def _unknown_split(sc, rules):
    sc["scenarios"][0]["split"] = "holdout"


def _unknown_goal(sc, rules):
    sc["scenarios"][0]["goal"] = "make_friends"


def _stale_rules_version(sc, rules):
    sc["scenarios"][0]["rules_version"] = "0" * 16


def _too_short(sc, rules):
    sc["scenarios"][0]["optimal_steps"] = sc["spec"]["min_plan_steps"] - 1


def _too_long(sc, rules):
    sc["scenarios"][0]["optimal_steps"] = sc["spec"]["max_plan_steps"] + 1


def _empty(sc, rules):
    sc["scenarios"] = []


@pytest.mark.parametrize("break_it, fragment", [
    (_dup_scenario_id, "expect_column_values_to_be_unique(id)"),
    (_unknown_split, "expect_column_values_to_be_in_set(split)"),
    (_unknown_goal, "expect_column_values_to_be_in_set(goal)"),
    (_stale_rules_version, "expect_column_values_to_be_in_set(rules_version)"),
    (_too_short, "expect_column_values_to_be_between(optimal_steps)"),
    (_too_long, "expect_column_values_to_be_between(optimal_steps)"),
    (_empty, "expect_table_row_count_to_be_between"),
])
def test_scenarios_schema_fails_on_a_broken_record(break_it, fragment):
    sc, rules = ci.scenarios(), ci.game_rules()
    break_it(sc, rules)
    r = checks.scenarios_schema(scenarios=sc, game_rules=rules)
    assert not r.passed
    assert fragment in result_text(r)


# -- scenario_split_sizes ---------------------------------------------------------------------
def _sizes() -> dict[str, int]:
    return dict(collections.Counter(s["split"] for s in ci.scenarios()["scenarios"]))


def test_scenario_split_sizes_passes_at_the_minimum():
    sizes = _sizes()
    assert set(sizes) == {"train", "validation", "test"}, sizes
    r = checks.scenario_split_sizes(scenarios=ci.scenarios(), quality=QualitySettings(min_split_sizes=sizes))
    assert r.passed, result_text(r)
    assert result_text(r).endswith("below minimum: none")
    assert r.metadata["test_size"].value == sizes["test"]


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_scenario_split_sizes_fails_when_a_split_is_one_short(split):
    sizes = _sizes()
    minimum = {**sizes, split: sizes[split] + 1}
    r = checks.scenario_split_sizes(scenarios=ci.scenarios(), quality=QualitySettings(min_split_sizes=minimum))
    assert not r.passed
    assert f"below minimum: {{'{split}': ({sizes[split]}, {sizes[split] + 1})}}" in result_text(r)


def test_scenario_split_sizes_fails_when_a_split_is_empty():
    sc = ci.scenarios()
    sc["scenarios"] = [s for s in sc["scenarios"] if s["split"] != "validation"]
    r = checks.scenario_split_sizes(scenarios=sc, quality=QUALITY)
    assert not r.passed
    assert "below minimum: {'validation': (0, 1)}" in result_text(r)
    assert r.metadata["validation_size"].value == 0


# -- scenarios_hold_out_combinations ----------------------------------------------------------
def test_scenarios_hold_out_combinations_passes_on_generated_scenarios():
    r = checks.scenarios_hold_out_combinations(scenarios=ci.scenarios(), game_rules=ci.game_rules())
    assert r.passed, result_text(r)
    assert result_text(r) == "0 held-out combos in train/validation, 0 test scenarios outside held-out combos"


@pytest.mark.parametrize("into", ["train", "validation"])
def test_scenarios_hold_out_combinations_fails_when_a_held_out_combo_leaks(into):
    sc = ci.scenarios()
    leaked = _first(sc["scenarios"], split="test")
    leaked["split"] = into
    r = checks.scenarios_hold_out_combinations(scenarios=sc, game_rules=ci.game_rules())
    assert not r.passed
    assert result_text(r) == "1 held-out combos in train/validation, 0 test scenarios outside held-out combos"
    assert r.metadata["leaked"].value == [leaked["id"]]


def test_scenarios_hold_out_combinations_fails_on_a_test_scenario_outside_the_held_out_combos():
    sc = ci.scenarios()
    _first(sc["scenarios"], split="train")["split"] = "test"
    r = checks.scenarios_hold_out_combinations(scenarios=sc, game_rules=ci.game_rules())
    assert not r.passed
    assert result_text(r) == "0 held-out combos in train/validation, 1 test scenarios outside held-out combos"


def test_scenarios_hold_out_combinations_uses_the_recorded_spec():
    """Another seed holds out other combinations: the same scenarios no longer match it."""
    sc = ci.scenarios()
    sc["spec"]["seed"] = 1
    assert held_out_combos(ci.ruleset(), ScenarioSpec(**sc["spec"])) != held_out_combos(ci.ruleset(), ci.SPEC)
    r = checks.scenarios_hold_out_combinations(scenarios=sc, game_rules=ci.game_rules())
    assert not r.passed


# -- scenarios_solvable -----------------------------------------------------------------------
def test_scenarios_solvable_passes_on_generated_scenarios():
    sc = ci.scenarios()
    r = checks.scenarios_solvable(scenarios=sc, game_rules=ci.game_rules())
    assert r.passed, result_text(r)
    n = len(sc["scenarios"])
    assert result_text(r) == f"{n}/{n} solvable"


def _one_scenario(**match) -> dict:
    sc = ci.scenarios()
    sc["scenarios"] = [_first(sc["scenarios"], **match)]
    return sc


def test_scenarios_solvable_fails_on_an_unsolvable_scenario():
    """Combat has already broken out: every goal's fail condition holds, no plan reaches it."""
    sc = _one_scenario(goal="drive_off")
    sc["scenarios"][0]["state"]["combat"] = True
    r = checks.scenarios_solvable(scenarios=sc, game_rules=ci.game_rules())
    assert not r.passed
    assert result_text(r) == "0/1 solvable"
    assert r.metadata["unsolvable"].value == [sc["scenarios"][0]["id"]]


@pytest.mark.parametrize("delta", [-1, +1])
def test_scenarios_solvable_fails_when_the_recorded_optimal_steps_are_wrong(delta):
    sc = ci.scenarios()
    target = _first(sc["scenarios"], optimal_steps=3)
    target["optimal_steps"] += delta
    r = checks.scenarios_solvable(scenarios=sc, game_rules=ci.game_rules())
    assert not r.passed
    n = len(sc["scenarios"])
    assert result_text(r) == f"{n - 1}/{n} solvable"
    assert r.metadata["unsolvable"].value == [target["id"]]
