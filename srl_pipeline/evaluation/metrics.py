"""The metrics of an evaluation, counted from its rollouts and step completions (pure functions).

- :func:`summarize_rollouts`: full-plan success (greedy and avg@k), outcomes, the weakness report
  (per rule, per goal, the top failure modes in words), a few example plans and one line per task;
- :func:`summarize_steps`: the greedy next step against the expert's (step similarity, SRL reward,
  broken formats).

Tested on hand-made rollouts; :mod:`.evaluate` generates the rollouts and calls these.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from ..game.steps import StepFormatError, parse_step
from ..game.turn import line_key
from ..training.plan_rollout import OUTCOMES, PlanRollout, PlanTask
from ..training.rewards import FORMAT_PENALTY, extract_step, step_similarity

__all__ = ["MAX_EXAMPLES", "ONE_MOVE_SHARE", "TOP_FAILURE_MODES", "fraction", "move_concentration", "summarize_rollouts",
           "summarize_steps"]

MAX_EXAMPLES = 3
TOP_FAILURE_MODES = 3
ONE_MOVE_SHARE = 0.6   # a model whose greedy turns are mostly one action is reported as playing that one move


def fraction(n: int, d: int) -> float | None:
    return n / d if d else None


def _example(ro: PlanRollout, task: PlanTask | None) -> dict[str, Any]:
    failed = ro.turns[-1].completion if ro.turns and ro.outcome == "format_error" else None
    return {
        "scenario_id": task.scenario.id if task is not None else None,
        "goal": ro.goal, "outcome": ro.outcome, "plan": ro.plan, "legal_steps": ro.legal_steps,
        "violation": ({"step": ro.violation.step, "rule": ro.violation.rule, "kind": ro.violation.kind,
                       "message": ro.violation.message} if ro.violation is not None else None),
        "unparsed_completion": failed,
    }


def summarize_rollouts(greedy: Sequence[PlanRollout], sampled: Sequence[PlanRollout], tasks: Sequence[PlanTask],
                       k: int) -> dict[str, Any]:
    """Every rollout-derived metric, from one greedy rollout per task and ``k`` sampled per task.

    - ``success_greedy``: greedy successes / tasks; ``success_avg_k``: sampled successes /
      (tasks * k) (None when k is 0).
    - ``outcomes``: counts per :data:`OUTCOMES` over greedy + sampled rollouts ("plans").
    - ``weakness.by_rule``: rule id -> plans (greedy + sampled) ended by violating it.
    - ``weakness.by_goal``: goal -> tasks with that goal, their greedy success rate and greedy
      failures.
    - ``weakness.top_action``: :func:`move_concentration` of the greedy plays.
    - ``weakness.top_failure_modes``: up to 3 sentences, most frequent first (ties by text), from:
      each violated rule ("violates R (n of N plans)"), format errors, goals' fail conditions,
      unfinished plans, and each goal no plan ever reached ("never reaches G (0 of n plans)");
      first of all, when one action takes at least ``ONE_MOVE_SHARE`` of the greedy turns,
      "plays A on n of N greedy turns" (", whatever the goal" when it opens every goal's plays).
    - ``examples``: up to 3 greedy plans, first one per distinct outcome (in task order), then the
      next ones in task order.
    - ``per_task``: per task (greedy rollout): scenario id, goal, outcome, legal steps, turns, the
      violated rule (or None) and how many of its sampled plans succeeded.
    """
    n = len(tasks)
    plans = list(greedy) + list(sampled)
    total = len(plans)
    outcomes = Counter({o: 0 for o in OUTCOMES})
    outcomes.update(r.outcome for r in plans)
    by_rule = Counter(r.violation.rule for r in plans if r.outcome == "violation" and r.violation is not None)

    by_goal: dict[str, dict[str, Any]] = {}
    for r in greedy:
        g = by_goal.setdefault(r.goal, {"tasks": 0, "successes": 0})
        g["tasks"] += 1
        g["successes"] += r.success
    by_goal_out = {goal: {"tasks": g["tasks"], "success_greedy": g["successes"] / g["tasks"],
                          "failures": g["tasks"] - g["successes"]} for goal, g in sorted(by_goal.items())}

    modes: list[tuple[int, str]] = [(c, f"violates {rule} ({c} of {total} plans)") for rule, c in by_rule.items()]
    if outcomes["format_error"]:
        modes.append((outcomes["format_error"], f"format errors ({outcomes['format_error']} of {total} plans)"))
    if outcomes["goal_failed"]:
        modes.append((outcomes["goal_failed"],
                      f"triggers the goal's fail condition ({outcomes['goal_failed']} of {total} plans)"))
    if outcomes["unfinished"]:
        modes.append((outcomes["unfinished"],
                      f"runs out of steps before the goal ({outcomes['unfinished']} of {total} plans)"))
    per_goal = Counter(r.goal for r in plans)
    reached = {r.goal for r in plans if r.success}
    for goal, c in per_goal.items():
        if goal not in reached:
            modes.append((c, f"never reaches {goal} (0 of {c} plans)"))
    modes.sort(key=lambda m: (-m[0], m[1]))
    one_move = move_concentration(greedy)
    if one_move is not None and one_move["share"] >= ONE_MOVE_SHARE:   # the cause of the modes above: said first
        modes.insert(0, (one_move["turns"], f"plays {one_move['action']} on {one_move['turns']} of {one_move['of']} "
                                            "greedy turns" + (", whatever the goal" if one_move["every_goal"] else "")))

    chosen: list[PlanRollout] = []
    seen: set[str] = set()
    ordered = sorted(greedy, key=lambda r: r.task_index)
    for r in ordered:
        if r.outcome not in seen and len(chosen) < MAX_EXAMPLES:
            chosen.append(r)
            seen.add(r.outcome)
    for r in ordered:
        if len(chosen) >= MAX_EXAMPLES:
            break
        if not any(r is c for c in chosen):
            chosen.append(r)
    chosen.sort(key=lambda r: r.task_index)

    sampled_ok = Counter(r.task_index for r in sampled if r.success)
    per_task = [{"scenario_id": tasks[r.task_index].scenario.id if 0 <= r.task_index < n else None,
                 "goal": r.goal, "outcome": r.outcome, "legal_steps": r.legal_steps, "turns": len(r.turns),
                 "violated_rule": r.violation.rule if r.violation is not None else None,
                 "sampled_successes": sampled_ok[r.task_index]} for r in ordered]

    return {
        "tasks": n,
        "success_greedy": fraction(sum(r.success for r in greedy), n),
        "success_avg_k": fraction(sum(r.success for r in sampled), n * k) if k else None,
        "k": k,
        "outcomes": {o: outcomes[o] for o in OUTCOMES},
        "weakness": {"by_rule": dict(sorted(by_rule.items())), "by_goal": by_goal_out, "top_action": one_move,
                     "top_failure_modes": [text for _, text in modes[:TOP_FAILURE_MODES]]},
        "examples": [_example(r, tasks[r.task_index] if 0 <= r.task_index < n else None) for r in chosen],
        "per_task": per_task,
    }


def move_concentration(greedy: Sequence[PlanRollout]) -> dict[str, Any] | None:
    """The action of most greedy turns: ``action``, ``turns`` (how many took it), ``of`` (turns with
    a readable step), ``share``, and ``every_goal`` (it is also the most common first move of every
    goal, when there are several goals). A tiny model that learnt one move that sometimes wins plays
    it whatever the encounter; success alone hides that (werewolf's 15.4 % in every column of the
    main runs is ``bare_fangs`` winning the drive-off scenarios). None without a readable turn."""
    actions: Counter[str] = Counter()
    openers: dict[str, Counter[str]] = {}
    for ro in greedy:
        first = True
        for text in ro.plan:
            try:
                action = parse_step(text).action
            except StepFormatError:
                continue
            actions[action] += 1
            if first:
                openers.setdefault(ro.goal, Counter())[action] += 1
                first = False
    if not actions:
        return None
    action, turns = _most_common(actions)
    of = sum(actions.values())
    every_goal = len(openers) > 1 and all(_most_common(c)[0] == action for c in openers.values())
    return {"action": action, "turns": turns, "of": of, "share": turns / of, "every_goal": every_goal}


def _most_common(counts: Counter[str]) -> tuple[str, int]:
    """The most frequent key and its count; ties go to the first name alphabetically (deterministic)."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def repeated_line_rate(greedy: Sequence[PlanRollout]) -> float | None:
    """Share of the greedy plays' turns (after each play's first readable one) whose in-character
    line repeats a line that play already spoke: an NPC that says the same words at every turn is
    not one a studio ships, whatever its success (the trace verifier halves such a play's voice)."""
    repeats = later = 0
    for ro in greedy:
        said: set[str] = set()
        for text in ro.plan:
            try:
                line = line_key(parse_step(text).line)
            except StepFormatError:
                continue
            if said:
                later += 1
                repeats += line in said
            said.add(line)
    return fraction(repeats, later)


def summarize_steps(completions: Sequence[str], targets: Sequence[str], prompts: Sequence[str] | None = None,
                    ruleset: Any = None) -> dict[str, Any]:
    """Greedy next steps against the expert's: mean similarity (broken format = 0), mean SRL reward
    (broken format = -1) and the number of broken completions. With the ``prompts`` and the
    ``ruleset``, also ``decision_accuracy``: the share of steps whose call does in the state shown
    what the expert's does (:func:`~..training.rewards.srl_effect.call_reward`), the decision SRL
    teaches, measured on every held-out step rather than only through whole plans. None means when
    there is none."""
    if len(completions) != len(targets):
        raise ValueError(f"{len(completions)} completions but {len(targets)} targets")
    decisions = None
    if prompts is not None and ruleset is not None:
        from ..training.rewards.srl_effect import call_reward

        judged = []
        for text, target, prompt in zip(completions, targets, prompts):
            try:
                judged.append(call_reward(text, target, prompt, ruleset) == 1.0)
            except ValueError:  # a prompt without a readable state (not a turn prompt): not judged
                continue
        decisions = (sum(judged), len(judged)) if judged else None
    sims, rewards, broken = [], [], 0
    for text, target in zip(completions, targets):
        step = extract_step(text)
        if step is None:
            broken += 1
            sims.append(0.0)
            rewards.append(FORMAT_PENALTY)
        else:
            s = step_similarity(step, target)
            sims.append(s)
            rewards.append(s)
    n = len(completions)
    return {"step_examples": n, "step_similarity": sum(sims) / n if n else None,
            "srl_reward": sum(rewards) / n if n else None, "step_format_errors": broken,
            "decision_accuracy": decisions[0] / decisions[1] if decisions else None}
