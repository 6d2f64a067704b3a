"""Metrics: exact counting on hand-made rollouts and step completions."""

from __future__ import annotations

import pytest

from srl_pipeline.evaluation.metrics import repeated_line_rate, summarize_rollouts, summarize_steps
from srl_pipeline.game.simulator import Violation
from srl_pipeline.training.plan_rollout import OUTCOMES, PlanRollout, Turn
from srl_pipeline.training.rewards import step_similarity
from srl_pipeline_tests.evaluation.helpers import STEP1, make_task


def _ro(task: int, sample: int, goal: str, outcome: str, steps: int = 1, rule: str | None = None) -> PlanRollout:
    turns = [Turn(f"p{task}", "<think>x</think>\n" + STEP1, [1, 2], STEP1) for _ in range(steps)]
    if outcome == "format_error":
        turns[-1] = Turn(f"p{task}", "garbled", [3], None)
    violation = Violation(steps, rule, "forbidden", f"{rule} forbids it") if rule else None
    legal = steps - (outcome in ("format_error", "violation"))
    return PlanRollout(task, sample, goal, turns, outcome, violation, legal)


def _hand_made():
    goals = ["drive_off", "strike_bargain", "drive_off"]
    greedy = [_ro(0, 0, goals[0], "success", 2), _ro(1, 0, goals[1], "violation", 1, "sunlight_burns"),
              _ro(2, 0, goals[2], "format_error", 3)]
    sampled = [_ro(0, 0, goals[0], "success", 2), _ro(0, 1, goals[0], "violation", 2, "sunlight_burns"),
               _ro(1, 0, goals[1], "goal_failed", 1), _ro(1, 1, goals[1], "violation", 1, "sunlight_burns"),
               _ro(2, 0, goals[2], "unfinished", 2), _ro(2, 1, goals[2], "success", 2)]
    return greedy, sampled


def test_summarize_rollouts_counts_exactly(tasks):
    greedy, sampled = _hand_made()
    s = summarize_rollouts(greedy, sampled, tasks, k=2)
    assert s["tasks"] == 3 and s["k"] == 2
    assert s["success_greedy"] == pytest.approx(1 / 3)
    assert s["success_avg_k"] == pytest.approx(2 / 6)
    assert s["outcomes"] == {"success": 3, "format_error": 1, "violation": 3, "goal_failed": 1, "unfinished": 1}
    assert list(s["outcomes"]) == list(OUTCOMES)
    w = s["weakness"]
    assert w["by_rule"] == {"sunlight_burns": 3}
    assert w["by_goal"] == {"drive_off": {"tasks": 2, "success_greedy": 0.5, "failures": 1},
                            "strike_bargain": {"tasks": 1, "success_greedy": 0.0, "failures": 1}}
    assert w["top_action"] == {"action": "converse", "turns": 5, "of": 5, "share": 1.0, "every_goal": True}
    assert w["top_failure_modes"] == ["plays converse on 5 of 5 greedy turns, whatever the goal",
                                      "never reaches strike_bargain (0 of 3 plans)",
                                      "violates sunlight_burns (3 of 9 plans)"]
    assert [(e["scenario_id"], e["outcome"]) for e in s["examples"]] == [
        ("t0", "success"), ("t1", "violation"), ("t2", "format_error")]
    assert s["examples"][1]["violation"]["rule"] == "sunlight_burns"
    assert s["examples"][2]["unparsed_completion"] == "garbled"
    assert s["examples"][0]["plan"] == [STEP1, STEP1]
    assert [(t["scenario_id"], t["outcome"], t["violated_rule"], t["sampled_successes"]) for t in s["per_task"]] == [
        ("t0", "success", None, 1), ("t1", "violation", "sunlight_burns", 0), ("t2", "format_error", None, 1)]


def test_summarize_rollouts_examples_prefer_distinct_outcomes(ruleset):
    tasks = [make_task(ruleset, i, "drive_off", {}) for i in range(5)]
    outcomes = ["success", "success", "violation", "success", "violation"]
    greedy = [_ro(i, 0, "drive_off", o, 1, "sunlight_burns" if o == "violation" else None)
              for i, o in enumerate(outcomes)]
    s = summarize_rollouts(greedy, [], tasks, k=0)
    assert [e["scenario_id"] for e in s["examples"]] == ["t0", "t1", "t2"]
    assert s["success_avg_k"] is None and s["success_greedy"] == pytest.approx(0.6)
    assert s["weakness"]["top_failure_modes"] == ["plays converse on 5 of 5 greedy turns",   # one goal: no "whatever"
                                                  "violates sunlight_burns (2 of 5 plans)"]


def _play(task: int, goal: str, *actions: str) -> PlanRollout:
    steps = [f'{i + 1}. **T** {a}(target=player) | "Line {i}."' for i, a in enumerate(actions)]
    return PlanRollout(task, 0, goal, [Turn("p", "<think>x</think>\n" + st, [1], st) for st in steps], "goal_failed",
                       None, len(steps))


def test_one_move_is_reported_when_it_takes_most_greedy_turns(ruleset):
    tasks = [make_task(ruleset, i, "drive_off", {}) for i in range(3)]
    # bare_fangs opens every goal and takes 5 of 7 turns (71 %): the model's one move
    one = [_play(0, "drive_off", "bare_fangs", "bare_fangs", "move"), _play(1, "strike_bargain", "bare_fangs", "howl"),
           _play(2, "defend_lair", "bare_fangs", "bare_fangs")]
    s = summarize_rollouts(one, [], tasks, k=0)
    assert s["weakness"]["top_action"] == {"action": "bare_fangs", "turns": 5, "of": 7, "share": 5 / 7, "every_goal": True}
    assert s["weakness"]["top_failure_modes"][0] == "plays bare_fangs on 5 of 7 greedy turns, whatever the goal"
    # a goal that opens with another move: still one move for most turns, but not whatever the goal
    other = [_play(0, "drive_off", "bare_fangs", "bare_fangs", "bare_fangs"), _play(1, "strike_bargain", "confide", "bare_fangs"),
             _play(2, "defend_lair", "bare_fangs")]
    s = summarize_rollouts(other, [], tasks, k=0)
    assert s["weakness"]["top_failure_modes"][0] == "plays bare_fangs on 5 of 6 greedy turns"
    # varied play (the top action under ONE_MOVE_SHARE): no such sentence, the share still reported
    varied = [_play(0, "drive_off", "bare_fangs", "move"), _play(1, "strike_bargain", "confide", "swear"),
              _play(2, "defend_lair", "bare_fangs", "mark")]
    s = summarize_rollouts(varied, [], tasks, k=0)
    assert s["weakness"]["top_action"]["share"] == pytest.approx(2 / 6)
    assert not any(m.startswith("plays ") for m in s["weakness"]["top_failure_modes"])
    assert summarize_rollouts([], [], [], k=0)["weakness"]["top_action"] is None


def test_summarize_steps_exact():
    other = '1. **Show the fangs** intimidate(target=player) | "Leave now, mortal, or stay forever."'
    completions = ["<think>a</think>\n" + STEP1, "no think tag at all", "<think>b</think>\n" + other]
    s = summarize_steps(completions, [STEP1, STEP1, STEP1])
    sim = step_similarity(other, STEP1)
    assert 0 < sim < 1
    assert s == {"step_examples": 3, "step_similarity": pytest.approx((1 + 0 + sim) / 3),
                 "srl_reward": pytest.approx((1 - 1 + sim) / 3), "step_format_errors": 1, "decision_accuracy": None}
    assert summarize_steps([], [])["step_similarity"] is None


def test_repeated_line_rate_counts_turns_that_repeat_their_plays_earlier_line():
    def play(*lines: str) -> PlanRollout:
        turns = [Turn("p", "c", [1], f'{i}. **T** move(to=x) | "{line}"') for i, line in enumerate(lines, 1)]
        return PlanRollout(0, 0, "drive_off", turns, "success")

    # turns after each play's first: 2 + 2 + 0; repeats: "Away" (case and spaces ignored), then none
    greedy = [play("Away.", "AWAY. ", "Back."), play("Go.", "Stay.", "Come."), play("Alone.")]
    assert repeated_line_rate(greedy) == pytest.approx(1 / 4)
    assert repeated_line_rate([play("Alone.")]) is None
    # a format error (no step) is skipped, not counted as a line
    broken = PlanRollout(0, 0, "drive_off", [Turn("p", "garbled", [3], None)], "format_error")
    assert repeated_line_rate([broken, play("Go.", "Go.")]) == 1.0


def test_decision_accuracy_counts_the_steps_that_do_what_the_experts_do():
    from pathlib import Path

    from srl_pipeline.game.rules import RuleSet
    from srl_pipeline.game.simulator import Simulator
    from srl_pipeline.game.sources import GameFiles
    from srl_pipeline.game.turn import turn_prompt

    rs = RuleSet.resolve(GameFiles(Path(__file__).resolve().parents[2] / "configs" / "game").load_rules("vampire"), [])
    prompt = turn_prompt("vampire", "extract_secret", rs, Simulator(rs).initial_state({"trust": 1}), "", [])
    expert = '1. **Talk** converse(topic=old_wars) | "Sit, my dear, and hear of the old wars."'
    same_effect = '<think>t</think>\n1. **Other** converse(topic=lineage) | "My lineage is older than your village, my dear."'
    other = '<think>t</think>\n1. **Hunt** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'
    s = summarize_steps([same_effect, other, "broken"], [expert] * 3, [prompt] * 3, rs)
    assert s["decision_accuracy"] == pytest.approx(1 / 3)
    assert summarize_steps([same_effect], [expert])["decision_accuracy"] is None          # no rules: not measured
    assert summarize_steps([same_effect], [expert], ["no state"], rs)["decision_accuracy"] is None
