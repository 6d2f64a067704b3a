"""The seeded scenario generator: determinism, solvability, held-out test combos, records."""

from __future__ import annotations

import json

import pytest

from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenarios import (
    SPLITS, Scenario, ScenarioSpec, combo_key, generate_scenarios, held_out_combos, validate_scenario_record,
)
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.solver import shortest_plan, shortest_plans

SPEC = ScenarioSpec(count=40, seed=3)


@pytest.fixture(scope="module")
def scenarios(ruleset, world):
    return generate_scenarios(ruleset, SPEC, world.player_profiles)


def test_deterministic_for_a_seed(ruleset, world, scenarios):
    again = generate_scenarios(ruleset, SPEC, world.player_profiles)
    assert [s.to_record() for s in again] == [s.to_record() for s in scenarios]
    assert len(scenarios) == SPEC.count


def test_different_for_another_seed(ruleset, world, scenarios):
    other = generate_scenarios(ruleset, ScenarioSpec(count=40, seed=4), world.player_profiles)
    assert {s.id for s in other} != {s.id for s in scenarios}
    assert held_out_combos(ruleset, ScenarioSpec(seed=4)) != held_out_combos(ruleset, SPEC)


def test_ids_unique_and_splits_known(scenarios):
    assert len({s.id for s in scenarios}) == len(scenarios)
    assert {s.split for s in scenarios} <= set(SPLITS)
    assert {"train", "test"} <= {s.split for s in scenarios}
    assert all(s.id.startswith("ghast-") and s.species == "ghast" for s in scenarios)


def test_every_scenario_is_solvable_and_the_plan_succeeds(sim, scenarios):
    calls = sim.all_calls()
    for s in scenarios:
        sol = shortest_plan(sim, s.state, s.goal, max_depth=SPEC.max_plan_steps)
        assert sol is not None, s.id
        assert sol.length == s.optimal_steps
        assert SPEC.min_plan_steps <= s.optimal_steps <= SPEC.max_plan_steps
        res = sim.run(s.state, sol.calls, s.goal)
        assert res.success and res.first_success_step == sol.length and res.steps_applied == sol.length
        # shortest: no single call reaches the goal (every optimal plan is >= 2 steps)
        assert not any(sim.run(s.state, [c], s.goal).success for c in calls)


def test_all_shortest_plans_succeed(sim, scenarios):
    s = max(scenarios, key=lambda s: s.optimal_steps)
    plans = shortest_plans(sim, s.state, s.goal, max_depth=SPEC.max_plan_steps, limit=5)
    assert plans and all(p.length == s.optimal_steps for p in plans)
    assert len({tuple((c.action, tuple(c.args.items())) for c in p.calls) for p in plans}) == len(plans)
    assert all(sim.run(s.state, p.calls, s.goal).success for p in plans)


def test_test_split_is_exactly_the_held_out_combos(ruleset, scenarios):
    holdout = held_out_combos(ruleset, SPEC)
    n_combos = len(ruleset.goals) * len(ruleset.state["location"].values) * len(ruleset.state["moon"].values)
    assert len(holdout) == round(n_combos * SPEC.test_fraction)
    for s in scenarios:
        assert s.combo == combo_key(s.goal, s.state["location"], s.state["moon"])
        assert (s.split == "test") == (s.combo in holdout), s.id
    assert not any(s.combo in holdout for s in scenarios if s.split in ("train", "validation"))


def test_scenarios_record_the_rules_version(rules, world, scenarios, ruleset):
    assert {s.rules_version for s in scenarios} == {ruleset.version}
    assert all(s.events == [] for s in scenarios)
    blood = RuleSet.resolve(rules, ["blood_moon"])
    under = generate_scenarios(blood, ScenarioSpec(count=8, seed=3), world.player_profiles)
    assert under and {s.rules_version for s in under} == {blood.version} != {ruleset.version}
    assert all(s.events == ["blood_moon"] for s in under)


def test_profiles_are_applied(scenarios, world):
    for s in scenarios:
        for var, value in world.player_profiles[s.state["player_behavior"]].items():
            assert s.state[var] == value


def test_record_round_trip(ruleset, scenarios):
    for s in scenarios:
        rec = json.loads(json.dumps(s.to_record()))
        assert Scenario.from_record(rec, ruleset) == s
        assert isinstance(rec["state"]["player_items"], list)
    plain = Scenario.from_record(scenarios[0].to_record())
    assert plain.state["player_items"] == sorted(scenarios[0].state["player_items"])


def test_validate_scenario_record(ruleset, sim):
    good = {"id": "s1", "goal": "drive_off", "state": {"trust": 2, "player_items": ["garlic"]}}
    sc = validate_scenario_record(good, ruleset, "user.jsonl", 0)
    assert sc.state == sim.initial_state({"trust": 2, "player_items": ["garlic"]})
    assert sc.split == "test" and sc.rules_version == ruleset.version
    bad = {"id": "s2", "goal": "conquer", "state": {"trust": 9, "sanity": 1}}
    with pytest.raises(GameDataError) as err:
        validate_scenario_record(bad, ruleset, "user.jsonl", 2)
    got = {(p.file, p.record, p.field) for p in err.value.problems}
    assert got == {("user.jsonl", "line 3", "goal"), ("user.jsonl", "line 3", "state.trust"),
                   ("user.jsonl", "line 3", "state.sanity")}
    with pytest.raises(GameDataError, match="line 1: field state: missing required field"):
        validate_scenario_record({"id": "x", "goal": "drive_off"}, ruleset, "user.jsonl", 0)


def test_solver_avoids_states_where_the_goal_fails(world):
    from srl_pipeline.game.rules import parse_species_rules
    from srl_pipeline.game.simulator import Call

    from .conftest import species_rules

    raw = species_rules()
    # driving the player off through resolve 1 fails the goal: intimidate twice (3 -> 1 -> 0) is not allowed
    raw["goals"]["slip_away"] = {"success": {"player_present": False}, "fail": {"player_resolve": 1}}
    sim = Simulator(RuleSet.resolve(parse_species_rules(raw, "x.yaml", world), []))
    state = sim.initial_state()
    direct = sim.run(state, [Call("intimidate", {"target": "player"})] * 2, "slip_away")
    assert direct.goal_reached and direct.goal_failed and not direct.success
    sol = shortest_plan(sim, state, "slip_away")
    assert sol is not None and sol.length == 3
    assert sim.run(state, sol.calls, "slip_away").success
    assert shortest_plan(sim, sim.initial_state({"player_present": False}), "slip_away").calls == []
    assert shortest_plan(sim, sim.initial_state({"time": "day"}), "slip_away") is None  # no intimidating by day
