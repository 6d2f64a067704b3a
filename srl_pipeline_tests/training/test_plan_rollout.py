"""Full plans written turn by turn and judged by the simulator, on the real vampire rules.

The policy is scripted (``generate=``), so each outcome is forced and the bookkeeping (turn
prompts, the plan so far, outcome, violated rule, reward) is checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.solver import shortest_plans
from srl_pipeline.game.sources import GameFiles
from srl_pipeline.game.steps import Step, format_step
from srl_pipeline.training.plan_rollout import PlanTask, plan_reward, rollout_plans

ROOT = Path(__file__).resolve().parents[2] / "configs" / "game"


@pytest.fixture(scope="module")
def vampire():
    files = GameFiles(ROOT)
    world = files.load_world()
    ruleset = RuleSet.resolve(files.load_rules("vampire", world), [])
    scenarios = generate_scenarios(ruleset, ScenarioSpec(count=12, seed=1), world.player_profiles)
    sim = Simulator(ruleset)
    solved = []
    for sc in scenarios:
        (sol,) = shortest_plans(sim, sc.state, sc.goal, max_depth=6)
        steps = [format_step(Step(i, f"Step {i}", c.action, tuple(c.args.items()), "I hunger, mortal, and I wait."))
                 for i, c in enumerate(sol.calls, start=1)]
        solved.append((sc, steps))
    return ruleset, solved


def completion(step: str) -> str:
    return f"\n<think>next.</think>\n{step}\n"


def scripted(answers):
    """A policy that answers prompt i of each call with answers(prompt) (and records the prompts)."""
    seen: list[list[str]] = []

    def generate(prompts):
        seen.append(list(prompts))
        return [(answers(p), [1, 2, 3]) for p in prompts]

    return generate, seen


def test_expert_plans_succeed_and_each_turn_sees_the_plan_so_far(vampire):
    ruleset, solved = vampire
    sc, steps = next((s, p) for s, p in solved if len(p) >= 2)
    task = PlanTask(sc, "SCENARIO", "LORE")

    def answer(prompt):
        done = sum(1 for s in steps if s in prompt)
        return completion(steps[done])

    generate, seen = scripted(answer)
    (ro,) = rollout_plans(None, None, [task], ruleset, generate=generate, max_steps=8)
    assert ro.outcome == "success" and ro.success and ro.reward == 1.0
    assert ro.plan == steps and ro.legal_steps == len(steps) and len(seen) == len(steps)
    # the live rollout's prompt is the turn contract replayed from the scenario (one function)
    assert seen[1][0] == task.prompt(steps[:1], ruleset=ruleset) and "Steps so far:\n" + steps[0] in seen[1][0]
    from srl_pipeline.game.turn import describe_state, replay
    state, changed = replay(ruleset, sc.state, steps[:1])
    assert f"State now: {describe_state(state)}\nLast step changed: {changed}\n" in seen[1][0]
    assert changed != "nothing" and "Last step changed: (no step yet)" in seen[0][0]


def test_outcomes_format_error_violation_and_unfinished(vampire):
    ruleset, solved = vampire
    sc, steps = solved[0]
    task = PlanTask(sc, "S", "L")
    bad_format, _ = scripted(lambda p: "no think tag here")
    (ro,) = rollout_plans(None, None, [task], ruleset, generate=bad_format)
    assert ro.outcome == "format_error" and ro.turns[0].step is None and ro.reward == 0.0

    unknown, _ = scripted(lambda p: completion('1. **Fly** teleport(to=moon) | "Away I go, mortal."'))
    (ro,) = rollout_plans(None, None, [task], ruleset, generate=unknown)
    assert ro.outcome == "violation" and ro.violation.rule == "unknown_action" and ro.legal_steps == 0

    # A legal step that does not reach the goal, repeated: unfinished after max_steps, with credit.
    sim = Simulator(ruleset)
    state = sim.initial_state(sc.state)
    legal = next(c for c in sim.all_calls() if sim.apply(dict(state), 1, c.action, c.args, "I wait here, mortal.", [])
                 and not sim.goal_check(sc.goal).success(_applied(sim, state, c), {}))
    step = format_step(Step(1, "Wait", legal.action, tuple(legal.args.items()), "I wait here, mortal."))
    repeat, _ = scripted(lambda p: completion(step))
    (ro,) = rollout_plans(None, None, [task], ruleset, generate=repeat, max_steps=1, progress_credit=0.1)
    assert ro.outcome == "unfinished" and ro.legal_steps == 1 and ro.reward == pytest.approx(0.1)


def _applied(sim, state, call):
    s = dict(state)
    sim.apply(s, 1, call.action, call.args, "I wait here, mortal.", [])
    return s


def test_samples_are_task_major_and_rewards_bounded():
    assert plan_reward("success", 0, 8, 0.1) == 1.0
    assert plan_reward("violation", 4, 8, 0.1) == pytest.approx(0.05)
    assert plan_reward("unfinished", 12, 8, 0.1) == pytest.approx(0.1)   # capped at the credit
    assert plan_reward("format_error", 3, 8) == 0.0                      # outcome-only by default


def test_many_tasks_and_samples_advance_together(vampire):
    ruleset, solved = vampire
    tasks = [PlanTask(sc, f"S{i}", "L") for i, (sc, _) in enumerate(solved[:3])]
    generate, seen = scripted(lambda p: "broken")
    out = rollout_plans(None, None, tasks, ruleset, samples=2, generate=generate)
    assert [(r.task_index, r.sample) for r in out] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert len(seen) == 1 and len(seen[0]) == 6                   # one batched call for all live plans
    record = tasks[0].to_record()
    assert PlanTask.from_record(record, ruleset) == tasks[0]
