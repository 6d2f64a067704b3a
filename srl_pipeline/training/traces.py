"""The teacher's verified plays (``bronze_traces``): what the students of the cascade learn from.

The production Bronze (SRL -> RLVR) plays the train encounters and freshly generated ones (more
than the teacher planner ever saw; never the held-out test combinations), greedy and sampled, turn
by turn through the simulator. A play is kept only when the simulator says it succeeded *and* the
verifier's score (simulator, voice, guardrails: the collaboration's rule-based verifier) reaches
the threshold. Each kept play gives one trace row per turn: the prompt the teacher saw and the turn
it wrote. Zero kept plays is a valid outcome (today's tiny Bronze often succeeds 0 %): the
students then skip their warm start and still distil on-policy.

The game numbers the turns, not the model: a play's steps are judged and kept as the engine
played them, numbered by their turn (the model may have written "3." on its second turn, which the
simulator ignores and the plan parser would refuse), so the students learn the right numbers too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Sequence

from ..game.scenarios import ScenarioSpec, generate_scenarios
from ..game.steps import format_step, parse_step
from .plan_rollout import PlanRollout, PlanTask

__all__ = ["fresh_scenarios", "played_plan", "summarize_plays", "trace_rows", "verify_play"]


def _numbered(step: str, number: int) -> str:
    """``step`` as the engine played it on turn ``number``."""
    return format_step(replace(parse_step(step), number=number))


def played_plan(play: PlanRollout) -> list[str]:
    """The play's steps numbered by the turn they were played on."""
    return [_numbered(s, i) for i, s in enumerate(play.plan, start=1)]


def fresh_scenarios(ruleset: Any, spec: ScenarioSpec, profiles: dict[str, dict[str, Any]], count: int,
                    known_ids: set[str]) -> list[Any]:
    """``count`` new train-split scenarios (another seed than the dataset's, never a known id and
    never a held-out test combination), marked split ``fresh``."""
    if count <= 0:
        return []
    made = generate_scenarios(ruleset, replace(spec, count=count * 3, seed=spec.seed + 7919), profiles)
    out = [s for s in made if s.split == "train" and s.id not in known_ids][:count]
    return [replace(s, split="fresh") for s in out]


def verify_play(play: PlanRollout, task: PlanTask, verifier: Any, context: Any) -> float:
    """The verifier's score of the play's plan (0 when the plan does not parse)."""
    from ..collaboration.jobs import TrajectoryJob

    if not play.plan:
        return 0.0
    verdict = verifier.verify(TrajectoryJob(task.scenario, context), None, "\n".join(played_plan(play)))
    return float(verdict.score)


def trace_rows(play: PlanRollout, task: PlanTask, source: str, score: float) -> list[dict[str, Any]]:
    """One row per turn of a kept play: the prompt the teacher saw, the turn it wrote (its step
    numbered by the turn, as played)."""
    sc = task.scenario
    return [{"id": f"{sc.id}:{play.sample}:{i}", "scenario_id": sc.id, "goal": sc.goal, "source": source,
             "turn": i, "prompt": t.prompt, "score": round(score, 4),
             "completion": t.completion.replace(t.step, _numbered(t.step, i), 1) if t.step else t.completion}
            for i, t in enumerate(play.turns, start=1)]


def summarize_plays(plays: Sequence[tuple[PlanRollout, bool]]) -> dict[str, Any]:
    """Plays, successes and kept plays in all and by goal (``kept`` also passed the verifier)."""
    by_goal: dict[str, Counter] = {}
    for play, kept in plays:
        c = by_goal.setdefault(play.goal, Counter())
        c["plays"] += 1
        c["successes"] += play.success
        c["kept"] += kept
    total = Counter()
    for c in by_goal.values():
        total.update(c)
    rate = lambda c: round(c["successes"] / c["plays"], 4) if c["plays"] else 0.0  # noqa: E731
    return {"plays": total["plays"], "successes": total["successes"], "kept": total["kept"],
            "success_rate": rate(total),
            "by_goal": {g: {"plays": c["plays"], "successes": c["successes"], "kept": c["kept"],
                            "success_rate": rate(c)} for g, c in sorted(by_goal.items())}}
