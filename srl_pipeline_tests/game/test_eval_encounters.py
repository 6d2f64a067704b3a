"""The hand-designed evaluation encounters under configs/eval/<species>_encounters.jsonl.

Every species of the built-in game (configs/game/species) has exactly ten encounters, written by
hand (not drawn by the scenario generator), covering every goal of its rules, several of them with
a tricky start that needs a preparatory move. They are checked against the rules in force under the
shipped live game state (configs/game/game_state.yaml), exactly as `srl-pipeline eval` checks them:

* the file passes the scenario-file validator (:func:`read_scenario_file`), ids are unique and
  descriptive (``<species>-<start location>-<twist>``);
* the project's BFS solver reaches the goal, and its optimal plan is 2..6 steps (the game's
  difficulty: the generator keeps plans of 2..6 steps);
* every encounter carries ``expert_steps``: an optimal plan (as long as the solver's) in the step
  format that the simulator runs to the goal with no violation (line rules included);
* at least three encounters per species *need a preparatory move* (defined in
  :func:`needs_preparatory_move`);
* no encounter is one the generator makes: each differs from what the generator would set in a
  variable it does not sample, and none equals a scenario of ``generate_scenarios`` under the local
  profile's settings.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml

from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenario_files import read_scenario_file
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.solver import shortest_plan, shortest_plans
from srl_pipeline.game.sources import FileGameStateSource, GameFiles
from srl_pipeline.game.steps import parse_step

REPO_ROOT = Path(__file__).resolve().parents[2]
GAME = GameFiles(REPO_ROOT / "configs" / "game")
EVAL_DIR = REPO_ROOT / "configs" / "eval"
LOCAL_PROFILE = REPO_ROOT / "configs" / "profiles" / "local.yaml"
SPECIES = GAME.list_species()

ENCOUNTERS_PER_SPECIES = 10
MIN_PLAN_STEPS, MAX_PLAN_STEPS = 2, 6
MIN_PREPARATORY = 3
# what the scenario generator samples; every other variable comes from the behaviour's player
# profile or the variable's default
GENERATOR_SAMPLED = frozenset({"location", "time", "moon", "player_behavior", "player_items"})
UNBOUNDED = 10**6


def encounter_file(species: str) -> Path:
    return EVAL_DIR / f"{species}_encounters.jsonl"


@pytest.fixture(scope="module")
def world():
    return GAME.load_world()


@pytest.fixture(scope="module")
def events() -> list[str]:
    return FileGameStateSource(GAME.game_state_path).active_events()


@pytest.fixture(scope="module", params=SPECIES)
def species(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def ruleset(species, world, events) -> RuleSet:
    """The species' rules in force under the shipped live game state."""
    return RuleSet.resolve(GAME.load_rules(species, world), events)


@pytest.fixture(scope="module")
def sim(ruleset) -> Simulator:
    return Simulator(ruleset)


@pytest.fixture(scope="module")
def records(species) -> list[dict[str, Any]]:
    path = encounter_file(species)
    assert path.is_file(), f"{path} is missing: every species needs its hand-designed encounters"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def encounters(species, ruleset, records):
    """(record, Scenario, expert steps) per line, through the scenario-file validator."""
    read = read_scenario_file(encounter_file(species), ruleset, species)
    assert len(read) == len(records)
    return [(rec, sc, steps) for rec, (sc, steps) in zip(records, read)]


def needs_preparatory_move(sim: Simulator, state: Mapping[str, Any], goal: str) -> bool:
    """Whether the encounter needs a preparatory move: every goal-completing action is illegal at the start.

    The goal-completing actions are the actions that end some optimal plan. The solver's BFS keeps
    every state first reached at each depth and, with no limit on the number of plans, returns every
    (state at the optimal depth minus one, final call) pair that reaches the goal; any optimal plan's
    second-to-last state is such a state, so the action names of the returned plans' last calls are
    exactly the last actions of all optimal plans. "Illegal" means the simulator rejects every call
    of that action, with every argument combination, in the start state (a failed precondition, a
    forbidding or an unmet required constraint). So no plan - in particular no optimal plan - can
    begin with a goal-completing action: another action must first change the state (move, time,
    form, trust, power, items held, ...).
    """
    plans = shortest_plans(sim, state, goal, max_depth=MAX_PLAN_STEPS, max_expanded=UNBOUNDED, limit=UNBOUNDED)
    assert plans, f"unsolvable within {MAX_PLAN_STEPS} steps"
    finishing = {p.calls[-1].action for p in plans}
    for call in sim.all_calls():
        if call.action in finishing and sim.apply(dict(state), 1, call.action, call.args, None, []):
            return False
    return True


def test_every_species_of_the_game_is_covered():
    assert {"vampire", "werewolf", "zombie", "ghoul", "lich"} <= set(SPECIES)


def test_exactly_ten_lines_with_unique_descriptive_ids(species, ruleset, records):
    lines = encounter_file(species).read_text(encoding="utf-8").splitlines()
    assert len(lines) == ENCOUNTERS_PER_SPECIES and all(line.strip() for line in lines)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids), ids
    places = "|".join(ruleset.state["location"].values)
    pattern = re.compile(rf"^{species}-({places})-[a-z0-9]+(-[a-z0-9]+)*$")
    for rec in records:
        m = pattern.match(rec["id"])
        assert m, f"{rec['id']!r} is not <species>-<place>-<twist>"
        assert rec["state"].get("location") == m.group(1), f"{rec['id']}: the place in the id is the start location"


def test_every_line_passes_the_validator_and_carries_expert_steps(species, encounters):
    assert len(encounters) == ENCOUNTERS_PER_SPECIES
    for rec, sc, steps in encounters:
        assert sc.species == species and sc.id == rec["id"] and sc.goal == rec["goal"]
        assert steps and steps == rec["expert_steps"], f"{sc.id}: expert_steps missing"


def test_every_goal_is_covered(ruleset, records):
    assert {r["goal"] for r in records} == set(ruleset.goals)


def test_solvable_in_2_to_6_steps_and_the_expert_plan_is_optimal_and_legal(sim, encounters):
    for _, sc, steps in encounters:
        solution = shortest_plan(sim, sc.state, sc.goal, max_depth=MAX_PLAN_STEPS, max_expanded=UNBOUNDED)
        assert solution is not None, f"{sc.id}: the solver finds no plan within {MAX_PLAN_STEPS} steps"
        assert MIN_PLAN_STEPS <= solution.length <= MAX_PLAN_STEPS, (sc.id, solution.length)
        plan = [parse_step(s) for s in steps]
        result = sim.run(sc.state, plan, sc.goal)
        assert not result.violations, (sc.id, result.violations)
        assert result.success, (sc.id, result)
        assert len(plan) == solution.length, f"{sc.id}: expert plan has {len(plan)} steps, optimal is {solution.length}"
        assert result.first_success_step == len(plan)


def test_at_least_three_need_a_preparatory_move(sim, encounters):
    tricky = [sc.id for _, sc, _ in encounters if needs_preparatory_move(sim, sc.state, sc.goal)]
    assert len(tricky) >= MIN_PREPARATORY, tricky


def test_no_encounter_is_a_generated_one(ruleset, sim, world, encounters):
    # by construction: the generator sets every variable it does not sample from the behaviour's
    # profile or the default, so an encounter differing there is not generated for any seed or count
    for _, sc, _ in encounters:
        sampled = {k: v for k, v in sc.state.items() if k in GENERATOR_SAMPLED}
        generated_like = sim.initial_state({**sampled, **world.player_profiles.get(sc.state["player_behavior"], {})})
        assert sc.state != generated_like, f"{sc.id} is a state the scenario generator can produce"
    # and concretely: none equals a scenario generated under the local profile's settings
    raw = (yaml.safe_load(LOCAL_PROFILE.read_text(encoding="utf-8")) or {}).get("scenarios", {})
    spec = ScenarioSpec(**{f.name: raw[f.name] for f in fields(ScenarioSpec) if f.name in raw})
    generated = {(g.goal, _key(g.state)) for g in generate_scenarios(ruleset, spec, world.player_profiles)}
    assert not [sc.id for _, sc, _ in encounters if (sc.goal, _key(sc.state)) in generated]


def _key(state: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(sorted(v)) if isinstance(v, frozenset) else v) for k, v in state.items()))
