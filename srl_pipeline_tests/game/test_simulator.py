"""The simulator, case by case: every violation kind, effects, reactions, goals, determinism."""

from __future__ import annotations

import copy
import dataclasses
import random

import pytest

from srl_pipeline.game.rules import Constraint, Gate, RuleSet, parse_species_rules, parse_world
from srl_pipeline.game.simulator import Call, SimResult, Simulator, Violation
from srl_pipeline.game.steps import parse_plan

from .conftest import TEST_WORLD, species_rules

P = {"target": "player"}


def run(sim: Simulator, plan, goal="drive_off", **overrides) -> SimResult:
    return sim.run(sim.initial_state(overrides), plan, goal)


def kinds(res: SimResult) -> list[tuple[int, str, str]]:
    return [(v.step, v.rule, v.kind) for v in res.violations]


# -- violations ------------------------------------------------------------------------
def test_unknown_action_is_reported_and_not_applied(sim):
    state = sim.initial_state()
    res = sim.run(state, [Call("fly", {}), Call("howl", {})], "drive_off")  # howl is not in force without blood_moon
    assert kinds(res) == [(1, "unknown_action", "unknown_action"), (2, "unknown_action", "unknown_action")]
    assert "'fly'" in res.violations[0].message
    assert res.steps_applied == 0
    assert res.final_state == state
    assert not res.legal and not res.success


@pytest.mark.parametrize("call", [
    Call("move", {}),                                          # missing argument
    Call("intimidate", {"target": "player", "loudly": "yes"}),  # extra argument
    Call("move", {"to": "moon"}),                              # value outside the parameter's domain
    Call("move", {"to": "dwelling"}),                          # a location, but not one move allows
    Call("move", {"dest": "crypt"}),                           # right count, wrong name
    Call("rest", {"x": "y"}),                                  # arguments to a no-argument action
])
def test_bad_arguments(sim, call):
    state = sim.initial_state()
    res = sim.run(state, [call], "drive_off")
    assert kinds(res) == [(1, "bad_arguments", "bad_arguments")]
    assert call.action in res.violations[0].message
    assert res.steps_applied == 0 and res.final_state == state


def test_good_arguments_pass(sim):
    res = run(sim, [Call("move", {"to": "crypt"}), Call("rest", {})])
    assert res.violations == [] and res.steps_applied == 2


def test_precondition_reported_by_id(sim):
    res = run(sim, [Call("move", {"to": "road"})])  # already on the road
    assert kinds(res) == [(1, "cannot_stay_put", "precondition")]
    assert res.final_state["location"] == "road"


def test_every_failed_precondition_is_reported(sim):
    res = run(sim, [Call("offer_bargain", {"price": "gold"})], player_present=False, trust=0)
    assert kinds(res) == [(1, "player_is_here", "precondition"), (1, "needs_trust", "precondition")]


def test_precondition_with_param_ref_on_set(sim):
    assert kinds(run(sim, [Call("take_item", {"item": "gold"})])) == [(1, "player_has_it", "precondition")]
    res = run(sim, [Call("take_item", {"item": "gold"})], player_items=["gold", "silver"])
    assert res.legal and res.final_state["player_items"] == frozenset({"silver"})


def test_forbidden_with_when(sim):
    res = run(sim, [Call("enter_dwelling", {})], location="village")
    assert kinds(res) == [(1, "no_uninvited_entry", "forbidden")]
    assert res.final_state["location"] == "village"
    res = run(sim, [Call("enter_dwelling", {})], location="village", invited=True)
    assert res.legal and res.final_state["location"] == "dwelling"


def test_forbidden_on_set_membership(sim):
    res = run(sim, [Call("feed", P)], player_items=["garlic"])
    assert kinds(res) == [(1, "garlic_wards", "forbidden")]
    assert res.final_state["combat"] is False


def test_forbidden_without_when(ruleset):
    # An unconditional forbid on a catalogue action is rejected as contradictory when loaded (see
    # test_bad_data); the simulator still honours it if handed such a rule set directly.
    banned = Constraint("feeding_banned", "forbid", "", Gate(), actions=("feed",), condition=None)
    sim = Simulator(dataclasses.replace(ruleset, constraints=list(ruleset.constraints) + [banned]))
    res = run(sim, [Call("feed", P), Call("intimidate", P)])
    assert kinds(res) == [(1, "feeding_banned", "forbidden")]
    assert res.steps_applied == 1 and res.final_state["combat"] is False


def test_precondition_and_constraint_violations_together(sim):
    res = run(sim, [Call("feed", P)], time="day", player_items=["garlic"], player_present=False)
    assert kinds(res) == [(1, "player_is_here", "precondition"), (1, "sunlight_burns", "forbidden"),
                          (1, "garlic_wards", "forbidden")]


def test_required(sim):
    res = run(sim, [Call("converse", {"topic": "weather"})], form="bat")
    assert kinds(res) == [(1, "bargains_need_a_face", "required")]
    assert res.final_state["trust"] == 0
    assert run(sim, [Call("converse", {"topic": "weather"})]).legal


def test_invariant_checked_after_applying(sim):
    res = run(sim, [Call("rest", {}), Call("rest", {})])  # hunger 1 -> 2 -> 3, invariant hunger <= 2
    assert kinds(res) == [(2, "never_starving", "invariant")]
    assert res.steps_applied == 1  # a step whose outcome breaks an invariant is illegal: undone
    assert res.final_state["hunger"] == 2


@pytest.mark.parametrize("line,ok", [
    ("Go", False),                                  # 1 word < min 2
    ("Go away", True),                              # exactly min
    ("one two three four five six", True),          # exactly max
    ("one two three four five six seven", False),   # 7 > max 6
    ("   ", False),                                 # 0 words
    (None, True),                                   # no line: nothing to check
])
def test_line_length(sim, line, ok):
    res = run(sim, [Call("intimidate", P, line)])
    if ok:
        assert res.legal and res.final_state["player_resolve"] == 1
    else:
        assert kinds(res) == [(1, "short_lines", "line")]
        assert res.final_state["player_resolve"] == 3


def test_illegal_steps_are_skipped_and_later_steps_apply(sim):
    state = sim.initial_state()
    plan = [Call("move", {"to": "road"}), Call("intimidate", P, "x"), Call("move", {"to": "crypt"}),
            Call("fly", {}), Call("rest", {})]
    res = sim.run(state, plan, "defend_lair")
    assert [v.step for v in res.violations] == [1, 2, 4]
    assert res.steps_applied == 2
    assert res.final_state == {**state, "location": "crypt", "hunger": 2}


# -- effects ---------------------------------------------------------------------------
def test_effect_set_const_and_goal(sim):
    res = run(sim, [Call("ask_secret", {"about": "relic"})], "extract_secret", trust=4)
    assert res.final_state["secret_revealed"] is True and res.success and res.first_success_step == 1


def test_effect_set_param(sim):
    res = run(sim, [Call("move", {"to": "castle"}), Call("transform", {"form": "bat"})])
    assert res.final_state["location"] == "castle" and res.final_state["form"] == "bat"


def test_add_clamps_at_min_and_max(sim):
    res = run(sim, [Call("intimidate", P)], player_resolve=1, player_present=True)
    assert res.final_state["player_resolve"] == 0  # 1 - 2 clamped at min 0
    res = run(sim, [Call("soothe", P), Call("soothe", P)], trust=3)
    assert res.final_state["trust"] == 5  # 3 + 2 = 5, then 7 clamped at max 5
    res = run(sim, [Call("converse", {"topic": "lineage"})], player_resolve=5, trust=5)
    assert res.final_state["player_resolve"] == 5 and res.final_state["trust"] == 5
    res = run(sim, [Call("soothe", P)], trust=1)
    assert res.final_state["trust"] == 3  # no clamping inside the range


def test_add_item_and_remove_item(sim):
    res = run(sim, [Call("mark", {"sign": "door"}), Call("mark", {"sign": "door"}), Call("mark", {"sign": "tree"})])
    assert res.legal and res.final_state["marked"] == frozenset({"door", "tree"})
    assert isinstance(res.final_state["marked"], frozenset)
    res = run(sim, [Call("mark", {"sign": "door"}), Call("unmark", {"sign": "door"}), Call("unmark", {"sign": "door"})])
    assert kinds(res) == [(3, "must_be_marked", "precondition")]
    assert res.final_state["marked"] == frozenset()


# -- reactions and goals ---------------------------------------------------------------
def test_player_flees_when_resolve_hits_zero(sim):
    res = run(sim, [Call("intimidate", P), Call("intimidate", P)])  # resolve 3 -> 1 -> 0 (clamped)
    assert res.final_state["player_resolve"] == 0
    assert res.final_state["player_present"] is False
    assert res.success and res.first_success_step == 2
    one = run(sim, [Call("intimidate", P)])
    assert one.final_state["player_present"] is True and not one.goal_reached and one.first_success_step is None


def test_player_gone_makes_player_actions_illegal(sim):
    res = run(sim, [Call("intimidate", P)] * 3)
    assert kinds(res) == [(3, "player_is_here", "precondition")]
    assert res.goal_reached and not res.success  # reached, but the plan broke a rule


def test_reaction_can_fail_the_goal(sim):
    # a hostile player whose resolve reaches 5 attacks: combat -> strike_bargain fails
    res = run(sim, [Call("converse", {"topic": "weather"})], "strike_bargain",
              player_behavior="hostile", player_resolve=4, trust=3)
    assert res.final_state["combat"] is True and res.goal_failed
    res = run(sim, [Call("converse", {"topic": "weather"}), Call("offer_bargain", {"price": "gold"})],
              "strike_bargain", player_behavior="hostile", player_resolve=4, trust=2)
    assert res.legal and res.goal_reached and res.goal_failed and not res.success


def test_goal_fail_after_any_step_is_sticky(sim):
    plan = [Call("transform", {"form": "bat"}), Call("transform", {"form": "man"}), Call("move", {"to": "castle"})]
    res = run(sim, plan, "lure_to_castle", trust=3)
    assert res.legal and res.goal_reached and res.final_state["form"] == "man"
    assert res.goal_failed and not res.success  # fail held after step 1, even though not at the end
    ok = run(sim, plan[2:], "lure_to_castle", trust=3)
    assert ok.success and not ok.goal_failed


def test_success_needs_goal_at_the_end(sim):
    res = run(sim, [Call("move", {"to": "castle"}), Call("move", {"to": "road"})], "lure_to_castle", trust=3)
    assert res.legal and not res.goal_reached and not res.success
    assert res.first_success_step == 1
    res = run(sim, [Call("move", {"to": "castle"}), Call("soothe", P), Call("mark", {"sign": "tree"})],
              "lure_to_castle", trust=1)
    assert res.success and res.first_success_step == 2
    res = run(sim, [Call("move", {"to": "castle"})], "lure_to_castle", trust=2)
    assert not res.goal_reached and res.first_success_step is None


def test_success_needs_no_violations(sim):
    res = run(sim, [Call("fly", {}), Call("intimidate", P), Call("intimidate", P)])
    assert res.goal_reached and not res.goal_failed and not res.success
    assert res.violated_rules() == ["unknown_action"]


def test_empty_plan(sim):
    res = run(sim, [])
    assert res.steps_applied == 0 and not res.goal_reached and res.first_success_step is None
    assert run(sim, [], player_present=False).success


def test_unknown_goal_and_bad_initial_state(sim):
    with pytest.raises(KeyError, match="no_such_goal"):
        run(sim, [], "no_such_goal")
    with pytest.raises(KeyError, match="sanity"):
        sim.initial_state({"sanity": 1})
    with pytest.raises(ValueError, match="trust"):
        sim.initial_state({"trust": 9})
    with pytest.raises(ValueError, match="player_items"):
        sim.initial_state({"player_items": ["dragon"]})


def test_steps_from_the_step_format_run_directly(sim):
    plan = parse_plan('1. **Loom** intimidate(target=player) | "Leave this place"\n'
                      '2. **Loom again** intimidate(target=player) | "Now"\n')
    res = run(sim, plan)
    assert kinds(res) == [(2, "short_lines", "line")]  # "Now" is one word
    assert res.final_state["player_resolve"] == 1


# -- determinism, purity, enumeration --------------------------------------------------
def _random_plans(sim: Simulator, seed: int, n: int = 60, length: int = 8):
    rng = random.Random(seed)
    calls = sim.all_calls() + [Call("fly", {}), Call("move", {"to": "moon"})]
    return [[rng.choice(calls) for _ in range(rng.randint(1, length))] for _ in range(n)]


def test_determinism_and_input_not_mutated(sim, world):
    other = Simulator(RuleSet.resolve(parse_species_rules(species_rules(), "again.yaml", world), []))
    rng = random.Random(7)
    for i, plan in enumerate(_random_plans(sim, seed=11)):
        state = sim.initial_state({"player_items": rng.sample(["garlic", "silver", "gold", "torch"], 2),
                                   "time": rng.choice(["day", "night"]), "trust": rng.randint(0, 5)})
        snapshot = copy.deepcopy(state)
        goal = sorted(sim.ruleset.goals)[i % 5]
        a, b, c = sim.run(state, plan, goal), sim.run(state, plan, goal), other.run(state, plan, goal)
        assert a == b == c
        assert state == snapshot  # the caller's state is untouched
        assert a.final_state is not state


def test_apply_mutates_only_the_given_state(sim):
    state = sim.initial_state()
    out: list[Violation] = []
    assert sim.apply(state, 1, "move", {"to": "crypt"}, None, out) is True
    assert state["location"] == "crypt" and out == []
    assert sim.apply(state, 2, "move", {"to": "crypt"}, None, out) is False
    assert out == [Violation(2, "cannot_stay_put", "precondition", out[0].message)]


def test_all_calls_is_complete_and_ordered(sim):
    calls = sim.all_calls()
    assert calls == sim.all_calls()
    assert len(calls) == sum(
        1 if not a.params else len(next(iter(a.params.values())))
        for a in sim.ruleset.actions.values())
    assert calls[0] == Call("intimidate", {"target": "player"})
    assert [c.action for c in calls][-1] == "rest"
    state = sim.initial_state()
    for call in calls:  # every enumerated call has well-formed arguments
        res = sim.run(state, [call], "drive_off")
        assert "bad_arguments" not in res.violated_rules()


def test_simulator_independent_of_world_file_name(world):
    w2 = parse_world(copy.deepcopy(TEST_WORLD), "elsewhere/world.yaml")
    r1 = RuleSet.resolve(parse_species_rules(species_rules(), "a.yaml", world), [])
    r2 = RuleSet.resolve(parse_species_rules(species_rules(), "b.yaml", w2), [])
    assert r1.version == r2.version  # the version hashes content, not paths
