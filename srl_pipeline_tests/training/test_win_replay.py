"""The wins buffer: verified wins only, one per (scenario, plan), spread over scenarios when drawn."""

from __future__ import annotations

import random

from srl_pipeline.training.plan_rollout import PlanRollout, Turn
from srl_pipeline.training.win_replay import WinsBuffer


def play(index: int, steps: list[str], outcome: str = "success") -> PlanRollout:
    return PlanRollout(index, 0, "g", [Turn(f"p{index}:{k}", "c", [k, 7], s) for k, s in enumerate(steps)],
                       outcome=outcome)


def test_only_successes_are_kept_once_per_scenario_and_plan_under_their_train_ids():
    buf = WinsBuffer()
    plays = [play(0, ["a"]), play(0, ["a"]), play(1, ["b"], "violation"), play(42, ["c", "d"])]
    assert buf.add(plays) == 2
    assert buf.add([play(0, ["a"]), play(0, ["a", "z"])], task=40) == 2   # the group of train scenario 40
    assert buf.add([play(0, ["a", "z"])], task=40) == 0
    assert len(buf) == 4 and buf.scenarios() == 3
    rec = {tuple(r["plan"]): r for r in buf.state()}
    assert rec[("c", "d")]["task"] == 42 and rec[("c", "d")]["turns"] == [["p42:0", [0, 7]], ["p42:1", [1, 7]]]


def test_draws_spread_over_scenarios_and_the_state_round_trips():
    buf = WinsBuffer(capacity=50)
    buf.add([play(0, [f"s{i}"]) for i in range(10)] + [play(1, ["t"])])
    drawn = buf.sample(2, random.Random(3))
    assert len(drawn) == 2 and len({(w.task, w.plan) for w in drawn}) == 2
    # scenario 1's single win is drawn in about half the 2-win draws, not 1 in 11 as by plan
    hits = sum(any(w.task == 1 for w in buf.sample(1, random.Random(s))) for s in range(200))
    assert 70 < hits < 130
    assert len(buf.sample(99, random.Random(0))) == 11
    copy = WinsBuffer()
    copy.load_state(buf.state())
    assert copy.state() == buf.state()


def test_capacity_drops_the_oldest_wins():
    buf = WinsBuffer(capacity=2)
    buf.add([play(0, ["a"]), play(0, ["b"]), play(0, ["c"])])
    assert [r["plan"] for r in buf.state()] == [["b"], ["c"]]
