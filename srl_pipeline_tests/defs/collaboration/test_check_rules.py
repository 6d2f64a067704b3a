"""The trajectory and SRL-dataset asset checks' pass/fail rules, called directly on small values.

The inputs are a real offline collaboration run (search planner, rule-based verifier) on 30
vampire scenarios and the SRL examples built from it; each failing case breaks one rule.
"""

from __future__ import annotations

import re

import pytest

from srl_pipeline.defs.collaboration import checks
from srl_pipeline.defs.collaboration.resources import DatasetSettings

from .. import check_inputs as ci
from ..check_inputs import result_text

DATASET = DatasetSettings(min_steps=2, max_steps=6, min_acceptance_rate=0.8, context_tokens=2048, min_train_examples=10)


def _accepted(trajectories: dict) -> list[dict]:
    return [t for t in trajectories["trajectories"] if t["accepted"]]


def _quality(trajectories: dict, dataset: DatasetSettings = DATASET):
    return checks.trajectories_quality(expert_trajectories=trajectories, collaboration=ci.collaboration_resource(),
                                       dataset_settings=dataset)


def test_the_offline_run_accepts_every_scenario():
    """The inputs the passing cases rely on: all accepted, every split present."""
    tr = ci.expert_trajectories()
    assert len(tr["trajectories"]) == len(ci.scenarios()["scenarios"])
    assert all(t["accepted"] for t in tr["trajectories"])
    assert {e["split"] for e in ci.srl_dataset()["examples"]} == {"train", "validation", "test"}


# -- trajectories_reverified ------------------------------------------------------------------
def test_trajectories_reverified_passes_on_the_offline_run():
    tr = ci.expert_trajectories()
    r = checks.trajectories_reverified(expert_trajectories=tr, game_rules=ci.game_rules(), scenarios=ci.scenarios())
    assert r.passed, result_text(r)
    n = len(_accepted(tr))
    assert result_text(r) == f"{n}/{n} accepted trajectories pass the simulator"


def test_trajectories_reverified_fails_on_a_plan_that_stops_short_of_the_goal():
    tr = ci.expert_trajectories()
    t = _accepted(tr)[0]
    t["plan"] = t["plan"].split("\n")[0]  # every scenario needs at least 2 steps
    r = checks.trajectories_reverified(expert_trajectories=tr, game_rules=ci.game_rules(), scenarios=ci.scenarios())
    assert not r.passed
    n = len(_accepted(tr))
    assert result_text(r) == f"{n - 1}/{n} accepted trajectories pass the simulator"
    assert r.metadata["failing"].value == [t["scenario_id"]]


def test_trajectories_reverified_fails_on_a_plan_breaking_the_rules():
    """Another scenario's plan under this scenario's state and goal."""
    tr = ci.expert_trajectories()
    by_goal = {}
    for t in _accepted(tr):
        by_goal.setdefault(t["goal"], t)
    a, b = by_goal["drive_off"], by_goal["strike_bargain"]
    a["plan"] = b["plan"]
    r = checks.trajectories_reverified(expert_trajectories=tr, game_rules=ci.game_rules(), scenarios=ci.scenarios())
    assert not r.passed
    assert a["scenario_id"] in r.metadata["failing"].value


def test_trajectories_reverified_fails_on_an_unknown_scenario():
    tr = ci.expert_trajectories()
    _accepted(tr)[0]["scenario_id"] = "vampire-000000000000"
    r = checks.trajectories_reverified(expert_trajectories=tr, game_rules=ci.game_rules(), scenarios=ci.scenarios())
    assert not r.passed
    assert r.metadata["failing"].value == ["vampire-000000000000"]


def test_trajectories_reverified_ignores_rejected_trajectories():
    tr = ci.expert_trajectories()
    t = tr["trajectories"][0]
    t["plan"] = t["plan"].split("\n")[0]
    t["accepted"] = False
    r = checks.trajectories_reverified(expert_trajectories=tr, game_rules=ci.game_rules(), scenarios=ci.scenarios())
    assert r.passed, result_text(r)
    n = len(_accepted(tr))
    assert result_text(r) == f"{n}/{n} accepted trajectories pass the simulator"


# -- trajectories_quality ---------------------------------------------------------------------
def test_trajectories_quality_passes_on_the_offline_run():
    r = _quality(ci.expert_trajectories())
    assert r.passed, result_text(r)
    assert result_text(r) == "all expectations met; ids: all expectations met"


def test_trajectories_quality_fails_on_an_accepted_score_under_the_threshold():
    tr = ci.expert_trajectories()
    accept = ci.collaboration_resource().accept_score
    _accepted(tr)[0]["score"] = accept
    assert _quality(tr).passed  # the threshold itself is enough
    _accepted(tr)[0]["score"] = round(accept - 0.01, 2)
    r = _quality(tr)
    assert not r.passed
    assert "expect_column_values_to_be_between(score)" in result_text(r)
    assert str(round(accept - 0.01, 2)) in result_text(r)


def test_trajectories_quality_ignores_the_score_of_a_rejected_trajectory():
    tr = ci.expert_trajectories()
    tr["trajectories"][0].update(accepted=False, score=0.1)
    r = _quality(tr)
    assert r.passed, result_text(r)


@pytest.mark.parametrize("bound", ["min_steps", "max_steps"])
def test_trajectories_quality_fails_on_a_step_count_out_of_bounds(bound):
    tr = ci.expert_trajectories()
    lengths = [len(t["steps"]) for t in _accepted(tr)]
    dataset = (DatasetSettings(min_steps=min(lengths) + 1, max_steps=6) if bound == "min_steps"
               else DatasetSettings(min_steps=1, max_steps=max(lengths) - 1))
    r = _quality(tr, dataset)
    assert not r.passed
    assert "expect_column_values_to_be_between(n_steps)" in result_text(r)


def test_trajectories_quality_fails_on_a_duplicated_trajectory():
    tr = ci.expert_trajectories()
    tr["trajectories"].append(dict(_accepted(tr)[0]))
    r = _quality(tr)
    assert not r.passed
    assert "expect_column_values_to_be_unique(scenario_plan)" in result_text(r)
    assert "ids: expect_column_values_to_be_unique(scenario_id)" in result_text(r)


def test_trajectories_quality_fails_on_a_scenario_with_two_trajectories():
    """A rejected second trajectory for the same scenario still duplicates the id."""
    tr = ci.expert_trajectories()
    extra = dict(_accepted(tr)[0], accepted=False, score=0.2)
    tr["trajectories"].append(extra)
    r = _quality(tr)
    assert not r.passed
    assert result_text(r).startswith("all expectations met; ids: expect_column_values_to_be_unique(scenario_id)")


# -- trajectories_acceptance_rate -------------------------------------------------------------
def _reject(tr: dict, n: int) -> None:
    for t in tr["trajectories"][:n]:
        t["accepted"] = False


def test_trajectories_acceptance_rate_passes_on_the_offline_run():
    tr = ci.expert_trajectories()
    r = checks.trajectories_acceptance_rate(expert_trajectories=tr, dataset_settings=DATASET)
    assert r.passed, result_text(r)
    assert result_text(r) == f"acceptance 100.00% (floor 80%) over {len(tr['trajectories'])} scenarios"


def test_trajectories_acceptance_rate_fails_under_the_floor():
    tr = ci.expert_trajectories()
    n = len(tr["trajectories"])
    assert n == 30
    _reject(tr, 6)  # 24/30 = 80%: at the floor
    at_floor = checks.trajectories_acceptance_rate(expert_trajectories=tr, dataset_settings=DATASET)
    assert at_floor.passed, result_text(at_floor)
    _reject(tr, 7)  # 23/30
    r = checks.trajectories_acceptance_rate(expert_trajectories=tr, dataset_settings=DATASET)
    assert not r.passed
    assert result_text(r) == "acceptance 76.67% (floor 80%) over 30 scenarios"
    assert r.metadata["acceptance_rate"].value == round(23 / 30, 4)


def test_trajectories_acceptance_rate_fails_with_no_trajectories():
    r = checks.trajectories_acceptance_rate(expert_trajectories={"trajectories": []},
                                            dataset_settings=DatasetSettings(min_acceptance_rate=0.0))
    assert not r.passed
    assert "over 0 scenarios" in result_text(r)


# -- srl_dataset_token_lengths ----------------------------------------------------------------
def test_srl_dataset_token_lengths_passes_on_the_built_examples():
    r = checks.srl_dataset_token_lengths(srl_dataset=ci.srl_dataset(), dataset_settings=DATASET)
    assert r.passed, result_text(r)
    assert result_text(r) == "all expectations met"


def test_srl_dataset_token_lengths_fails_when_an_example_exceeds_the_context():
    ds = ci.srl_dataset()
    longest = max(e["prompt_tokens"] + e["target_tokens"] for e in ds["examples"])
    fits = checks.srl_dataset_token_lengths(srl_dataset=ds, dataset_settings=DatasetSettings(context_tokens=longest))
    assert fits.passed, result_text(fits)
    r = checks.srl_dataset_token_lengths(srl_dataset=ds, dataset_settings=DatasetSettings(context_tokens=longest - 1))
    assert not r.passed
    assert "expect_column_values_to_be_between(total_tokens)" in result_text(r)


def test_srl_dataset_token_lengths_fails_on_an_empty_target():
    ds = ci.srl_dataset()
    ds["examples"][0]["target_tokens"] = 0
    r = checks.srl_dataset_token_lengths(srl_dataset=ds, dataset_settings=DATASET)
    assert not r.passed
    assert "expect_column_values_to_be_between(target_tokens)" in result_text(r)


def test_srl_dataset_token_lengths_fails_on_a_duplicated_example_id():
    ds = ci.srl_dataset()
    ds["examples"][1]["id"] = ds["examples"][0]["id"]
    r = checks.srl_dataset_token_lengths(srl_dataset=ds, dataset_settings=DATASET)
    assert not r.passed
    assert "expect_column_values_to_be_unique(id)" in result_text(r)


def test_srl_dataset_token_lengths_fails_on_an_empty_dataset():
    r = checks.srl_dataset_token_lengths(srl_dataset={"examples": []}, dataset_settings=DATASET)
    assert not r.passed
    assert "expect_table_row_count_to_be_between" in result_text(r)


# -- srl_dataset_splits -----------------------------------------------------------------------
_SPLITS_TEXT = re.compile(r"^(\d+) examples with a wrong split, (\d+) test examples in train, (\d+) train examples \(min (\d+)\)$")


def _splits(ds: dict, sc: dict | None = None, dataset: DatasetSettings = DATASET):
    r = checks.srl_dataset_splits(srl_dataset=ds, scenarios=sc or ci.scenarios(), dataset_settings=dataset)
    m = _SPLITS_TEXT.match(result_text(r))
    assert m, result_text(r)
    return r, tuple(int(x) for x in m.groups())


def test_srl_dataset_splits_passes_on_the_built_examples():
    ds = ci.srl_dataset()
    train = sum(e["split"] == "train" for e in ds["examples"])
    r, (wrong, leaked, n_train, minimum) = _splits(ds)
    assert r.passed, result_text(r)
    assert (wrong, leaked, n_train, minimum) == (0, 0, train, 10)
    assert r.metadata["train_examples"].value == train


def test_srl_dataset_splits_fails_when_a_test_example_is_labelled_train():
    ds = ci.srl_dataset()
    ex = next(e for e in ds["examples"] if e["split"] == "test")
    ex["split"] = "train"
    r, (wrong, leaked, _, _) = _splits(ds)
    assert not r.passed
    assert (wrong, leaked) == (1, 1)
    assert r.metadata["mislabelled"].value == [ex["id"]]


def test_srl_dataset_splits_fails_when_the_scenarios_moved_to_another_split():
    """Labels follow the scenarios: a scenario moved from validation to train leaves every one
    of its (validation-labelled) examples mislabelled."""
    ds, sc = ci.srl_dataset(), ci.scenarios()
    moved = next(s for s in sc["scenarios"] if s["split"] == "validation")
    moved["split"] = "train"
    n = sum(e["scenario_id"] == moved["id"] for e in ds["examples"])
    r, (wrong, leaked, _, _) = _splits(ds, sc)
    assert not r.passed
    assert (wrong, leaked) == (n, 0)


def test_srl_dataset_splits_fails_on_an_example_of_an_unknown_scenario():
    ds = ci.srl_dataset()
    ds["examples"][0]["scenario_id"] = "vampire-000000000000"
    r, (wrong, leaked, _, _) = _splits(ds)
    assert not r.passed
    assert (wrong, leaked) == (1, 0)


def test_srl_dataset_splits_fails_below_the_minimum_train_examples():
    ds = ci.srl_dataset()
    train = sum(e["split"] == "train" for e in ds["examples"])
    at_min = checks.srl_dataset_splits(srl_dataset=ds, scenarios=ci.scenarios(),
                                       dataset_settings=DatasetSettings(min_train_examples=train))
    assert at_min.passed, result_text(at_min)
    r, (wrong, leaked, n_train, minimum) = _splits(ds, dataset=DatasetSettings(min_train_examples=train + 1))
    assert not r.passed
    assert (wrong, leaked, n_train, minimum) == (0, 0, train, train + 1)
