"""Randomized differential check: the compiled simulator agrees with the naive interpreter used as
the baseline of bench/simulator_throughput.py, on random plans under every event set."""

from __future__ import annotations

import importlib.util
import random

import pytest

from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.simulator import Call, Simulator

from .conftest import REPO_ROOT


def _naive_module():
    spec = importlib.util.spec_from_file_location("simulator_throughput", REPO_ROOT / "bench" / "simulator_throughput.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("events", [[], ["blood_moon"], ["eclipse"], ["blood_moon", "eclipse", "harvest_festival"]])
def test_simulator_matches_naive_interpreter(rules, events):
    naive_mod = _naive_module()
    ruleset = RuleSet.resolve(rules, events)
    sim, naive = Simulator(ruleset), naive_mod.NaiveSimulator(ruleset)
    rng = random.Random(f"diff:{events}")
    calls = sim.all_calls() + [Call("fly", {}), Call("move", {"to": "moon"}), Call("howl", {}), Call("rest", {"x": "y"})]
    words = "a b c d e f g h".split()
    spaces = {n: sorted(s.domain()) if s.type != "set" else s.values for n, s in ruleset.state.items()}
    for _ in range(400):
        overrides = {n: (rng.sample(list(vals), rng.randint(0, len(vals))) if ruleset.state[n].type == "set"
                         else rng.choice(vals)) for n, vals in spaces.items()}
        try:
            state = sim.initial_state(overrides)
        except ValueError:
            continue
        plan = [Call(c.action, c.args, " ".join(rng.choice(words) for _ in range(rng.randint(0, 8)))
                     if rng.random() < 0.7 else None)
                for c in (rng.choice(calls) for _ in range(rng.randint(0, 10)))]
        goal = rng.choice(sorted(ruleset.goals))
        a, b = sim.run(state, plan, goal), naive.run(state, plan, goal)
        assert naive_mod._same(a, b), (state, plan, goal, a, b)
