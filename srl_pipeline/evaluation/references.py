"""Reference rows that calibrate a results table: what knowing only the rules gets you, and what
is possible at all. Same tasks, same simulator, same metrics as the models.

- ``random_legal``: at every turn a uniformly random call among those the rules allow in the
  current state (a model that knows the rules but not the plans would do at least this well);
  "greedy" is one seeded walk per task, avg@k ``k`` more.
- ``solver``: the breadth-first solver's shortest plan from the start state (the ceiling; below
  100 % only where a task is not solvable within the turn limit).

No model runs, so the step-wise metrics (step similarity, SRL reward) and the KL are None.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from ..game.simulator import Simulator
from ..game.solver import shortest_plan
from ..game.steps import Step, format_step
from ..training.plan_rollout import PlanRollout, PlanTask, Turn
from .metrics import repeated_line_rate, summarize_rollouts

REFERENCE_POLICIES = ("random_legal", "solver")
_LINE = "..."  # reference plans say nothing in character; the simulator judges the calls only


def _step_text(number: int, action: str, args: dict[str, str]) -> str:
    return format_step(Step(number, action.replace("_", " ").capitalize(), action, tuple(args.items()), _LINE))


def _play(sim: Simulator, task: PlanTask, index: int, sample: int, max_steps: int,
          choose: Any) -> PlanRollout:
    """One plan: ``choose(state, number)`` gives the next (action, args) or None (nothing to play)."""
    ro = PlanRollout(index, sample, task.scenario.goal)
    state = sim.initial_state(task.scenario.state)
    goal = sim.goal_check(ro.goal)
    for number in range(1, max_steps + 1):
        call = choose(state, number)
        if call is None:
            break
        action, args = call
        text = _step_text(number, action, args)
        ro.turns.append(Turn("", text, [], text))
        violations: list = []
        if not sim.apply(state, number, action, args, None, violations):
            ro.outcome, ro.violation = "violation", violations[0]
            return ro
        ro.legal_steps += 1
        if goal.fail is not None and goal.fail(state, {}):
            ro.outcome = "goal_failed"
            return ro
        if goal.success(state, {}):
            ro.outcome = "success"
            return ro
    return ro


def _legal_calls(sim: Simulator, state: dict[str, Any], number: int) -> list[tuple[str, dict[str, str]]]:
    legal = []
    for call in sim.all_calls():
        probe, violations = dict(state), []
        if sim.apply(probe, number, call.action, call.args, None, violations) and not violations:
            legal.append((call.action, dict(call.args)))
    return legal


def random_legal_rollouts(tasks: Sequence[PlanTask], ruleset: Any, samples: int, seed: int,
                          max_steps: int) -> list[PlanRollout]:
    sim = Simulator(ruleset)
    out = []
    for i, task in enumerate(tasks):
        for j in range(samples):
            rng = random.Random(f"random-legal:{seed}:{task.scenario.id}:{j}")
            out.append(_play(sim, task, i, j, max_steps,
                             lambda state, n: rng.choice(calls) if (calls := _legal_calls(sim, state, n)) else None))
    return out


def solver_rollouts(tasks: Sequence[PlanTask], ruleset: Any, max_steps: int) -> list[PlanRollout]:
    sim = Simulator(ruleset)
    out = []
    for i, task in enumerate(tasks):
        solution = shortest_plan(sim, sim.initial_state(task.scenario.state), task.scenario.goal, max_depth=max_steps)
        plan = [(c.action, dict(c.args)) for c in solution.calls] if solution is not None else []
        out.append(_play(sim, task, i, 0, max_steps, lambda state, n: plan[n - 1] if n <= len(plan) else None))
    return out


def evaluate_reference(name: str, tasks: Sequence[PlanTask], ruleset: Any, k: int, seed: int,
                       max_steps: int) -> dict[str, Any]:
    """The metrics of one reference policy, shaped like a model's (see :mod:`.evaluate`)."""
    tasks = list(tasks)
    if name == "random_legal":
        plays = random_legal_rollouts(tasks, ruleset, 1 + k, seed, max_steps)
        greedy = [r for r in plays if r.sample == 0]
        sampled = [r for r in plays if r.sample > 0]
    elif name == "solver":
        greedy = solver_rollouts(tasks, ruleset, max_steps)
        sampled = []
        k = 0  # deterministic: avg@k is the greedy figure
    else:
        raise ValueError(f"unknown reference policy {name!r}; known: {', '.join(REFERENCE_POLICIES)}")
    result = summarize_rollouts(greedy, sampled, tasks, k)
    if name == "solver":
        result["success_avg_k"] = result["success_greedy"]
    result.update({"step_similarity": None, "srl_reward": None, "step_examples": 0, "format_error_rate": 0.0,
                   "turns": sum(len(r.turns) for r in greedy), "kl_to_base": None,
                   "repeated_line_rate": repeated_line_rate(greedy),
                   "model": {"name": name, "base_model": None, "adapter": None}})
    return result
