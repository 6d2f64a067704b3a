"""Seeded scenario generation with train / validation / test splits.

A scenario is species + initial encounter state + goal, made under one rules version. The test
split holds out whole (goal, location, moon) combinations, so a model is tested on encounters it
has never seen the like of, not on random rows of a familiar distribution. Only scenarios the
solver can reach the goal in (within `max_plan_steps`) are kept, and trivial ones (shorter than
`min_plan_steps`) are skipped.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from .errors import GameDataError, ProblemLog
from .simulator import Simulator
from .solver import shortest_plan
from .rules import RuleSet

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class ScenarioSpec:
    count: int = 120
    seed: int = 0
    test_fraction: float = 0.2          # of (goal, location, moon) combinations held out
    validation_fraction: float = 0.12   # of the remaining scenarios
    min_plan_steps: int = 2
    max_plan_steps: int = 6
    max_items: int = 2
    max_attempts_factor: int = 40


@dataclass
class Scenario:
    id: str
    species: str
    split: str
    goal: str
    state: dict[str, Any]
    rules_version: str
    events: list[str]
    optimal_steps: int
    combo: str = field(default="")

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id, "species": self.species, "split": self.split, "goal": self.goal,
            "state": {k: sorted(v) if isinstance(v, frozenset) else v for k, v in self.state.items()},
            "rules_version": self.rules_version, "events": list(self.events),
            "optimal_steps": self.optimal_steps, "combo": self.combo,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any], ruleset: RuleSet | None = None) -> "Scenario":
        state = dict(rec["state"])
        if ruleset is not None:
            for k, spec in ruleset.state.items():
                if spec.type == "set" and k in state:
                    state[k] = frozenset(state[k])
        return cls(rec["id"], rec["species"], rec["split"], rec["goal"], state, rec["rules_version"],
                   list(rec.get("events", [])), int(rec.get("optimal_steps", 0)), rec.get("combo", ""))


def combo_key(goal: str, location: str, moon: str) -> str:
    return f"{goal}|{location}|{moon}"


def held_out_combos(ruleset: RuleSet, spec: ScenarioSpec) -> set[str]:
    """The (goal, location, moon) combinations reserved for the test split (seeded)."""
    st = ruleset.state
    combos = sorted(combo_key(g, loc, m) for g in ruleset.goals for loc in st["location"].values for m in st["moon"].values)
    rng = random.Random(f"holdout:{ruleset.species}:{spec.seed}")
    rng.shuffle(combos)
    return set(combos[: max(1, round(len(combos) * spec.test_fraction))])


def generate_scenarios(ruleset: RuleSet, spec: ScenarioSpec, profiles: dict[str, dict[str, Any]]) -> list[Scenario]:
    """Sample distinct solvable scenarios deterministically for `spec.seed` and split them."""
    sim = Simulator(ruleset)
    st = ruleset.state
    rng = random.Random(f"scenarios:{ruleset.species}:{spec.seed}")
    holdout = held_out_combos(ruleset, spec)
    items = list(st["player_items"].values)
    goals = sorted(ruleset.goals)
    seen: set[str] = set()
    out: list[Scenario] = []
    attempts = 0
    while len(out) < spec.count and attempts < spec.count * spec.max_attempts_factor:
        attempts += 1
        goal = rng.choice(goals)
        behavior = rng.choice(st["player_behavior"].values)
        overrides: dict[str, Any] = {
            "location": rng.choice(st["location"].values),
            "time": rng.choice(st["time"].values),
            "moon": rng.choice(st["moon"].values),
            "player_behavior": behavior,
            "player_items": frozenset(rng.sample(items, rng.randint(0, spec.max_items))),
        }
        overrides.update(profiles.get(behavior, {}))
        state = sim.initial_state(overrides)
        key = _scenario_key(ruleset.species, goal, state)
        if key in seen:
            continue
        seen.add(key)
        solution = shortest_plan(sim, state, goal, max_depth=spec.max_plan_steps)
        if solution is None or solution.length < spec.min_plan_steps:
            continue
        combo = combo_key(goal, state["location"], state["moon"])
        if combo in holdout:
            split = "test"
        else:
            split = "validation" if rng.random() < spec.validation_fraction else "train"
        out.append(Scenario(f"{ruleset.species}-{key[:12]}", ruleset.species, split, goal, state,
                            ruleset.version, sorted(ruleset.events), solution.length, combo))
    return out


def _scenario_key(species: str, goal: str, state: dict[str, Any]) -> str:
    parts = [species, goal] + [f"{k}={sorted(v) if isinstance(v, frozenset) else v}" for k, v in sorted(state.items())]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def validate_scenario_record(rec: Any, ruleset: RuleSet, file: str, index: int) -> Scenario:
    """Check a scenario record (e.g. a user-supplied one) against the rules; errors name the field."""
    log = ProblemLog(file)
    record = f"line {index + 1}"
    if not isinstance(rec, dict):
        raise GameDataError.single(file, record, "<record>", "expected a JSON object")
    for key, kind in (("id", str), ("goal", str), ("state", dict)):
        if key not in rec:
            log.add(record, key, "missing required field")
        elif not isinstance(rec[key], kind):
            log.add(record, key, f"expected {kind.__name__}, got {type(rec[key]).__name__}")
    log.raise_if_any()
    if rec["goal"] not in ruleset.goals:
        log.add(record, "goal", f"unknown goal {rec['goal']!r} (known: {sorted(ruleset.goals)})")
    state: dict[str, Any] = {}
    for k, v in rec["state"].items():
        spec = ruleset.state.get(k)
        if spec is None:
            log.add(record, f"state.{k}", "unknown state variable")
            continue
        try:
            value = frozenset(v) if spec.type == "set" and isinstance(v, list) else v
            valid = spec.accepts(value)
        except TypeError:  # e.g. a set holding mappings
            valid = False
        if not valid:
            log.add(record, f"state.{k}", f"invalid value {v!r} for {spec.type} variable")
            continue
        state[k] = value
    log.raise_if_any()
    full = Simulator(ruleset).initial_state(state)
    return Scenario(str(rec["id"]), ruleset.species, str(rec.get("split", "test")), rec["goal"], full,
                    ruleset.version, sorted(ruleset.events), int(rec.get("optimal_steps", 0)))
