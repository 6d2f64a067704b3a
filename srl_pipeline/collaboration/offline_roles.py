"""The offline defaults of the three roles: no network, deterministic for a seed.

- LexicalRetriever: BM25 over `lore_index`, injection-looking passages quarantined.
- SearchPlanner: breadth-first search over the simulator for a shortest plan reaching the goal,
  trying the actions the retrieved lore favours first, lines and titles taken from the lore's
  example lines (varied per scenario and attempt, never the same line twice in a plan).
- RuleBasedVerifier: the simulator's verdict (mandatory), voice and guardrails.
"""

from __future__ import annotations

import random
from collections import Counter

from ..game.lore_index import tokenize
from ..game.simulator import Call
from ..game.solver import shortest_plans
from ..game.steps import Step, StepFormatError, format_plan, parse_plan
from .guardrails import check_line
from .jobs import Retrieval, TrajectoryJob, Verdict
from .prompts import describe_state

SIMULATOR_WEIGHT = 0.6
VOICE_WEIGHT = 0.25
GUARDRAIL_WEIGHT = 0.15


class PlanningFailed(Exception):
    """The planner could not produce a plan (counted as a failed attempt)."""


class LexicalRetriever:
    def __init__(self, k: int = 6):
        self.k = k

    def query(self, job: TrajectoryJob) -> str:
        sc, rs = job.scenario, job.species.ruleset
        return " ".join([sc.goal.replace("_", " "), rs.goals[sc.goal].description, describe_state(sc.state).replace("_", " "),
                         " ".join(a.replace("_", " ") for a in rs.actions)])

    def retrieve(self, job: TrajectoryJob) -> Retrieval:
        by_id = {p.id: p for p in job.species.lore.passages}
        quarantined = job.species.quarantined
        hits = job.species.index.search(self.query(job), k=self.k + len(quarantined))
        chosen = [by_id[pid].to_dict() for pid, _ in hits if pid not in quarantined][: self.k]
        if not any(p["kind"] == "voice" for p in chosen):
            voice = next((p for p in job.species.lore.passages if p.kind == "voice" and p.id not in quarantined), None)
            if voice is not None:
                chosen.append(voice.to_dict())
        return Retrieval(chosen, sorted(quarantined))


class SearchPlanner:
    def __init__(self, seed: int = 0, max_plan_steps: int = 6, alternatives: int = 6):
        self.seed, self.max_plan_steps, self.alternatives = seed, max_plan_steps, alternatives

    def plan(self, job: TrajectoryJob, retrieval: Retrieval, feedback: list[str], attempt: int) -> str:
        sc, ctx = job.scenario, job.species
        rng = random.Random(f"{self.seed}:{sc.id}:{attempt}")
        favoured = Counter(a for p in retrieval.passages for a in p.get("actions", []))
        calls = ctx.simulator.all_calls()
        keyed = [(-favoured[c.action], rng.random(), i) for i, c in enumerate(calls)]
        ordered = [calls[i] for *_, i in sorted(keyed)]
        plans = shortest_plans(ctx.simulator, sc.state, sc.goal, self.max_plan_steps, calls=ordered, limit=self.alternatives)
        if not plans:
            raise PlanningFailed(f"no legal plan reaches {sc.goal} within {self.max_plan_steps} steps")
        chosen = plans[(attempt - 1) % len(plans)].calls
        return format_plan(self._write_steps(job, chosen, rng))

    def _write_steps(self, job: TrajectoryJob, calls: list[Call], rng: random.Random) -> list[Step]:
        ctx = job.species
        lines = [c for c in ctx.ruleset.constraints if c.kind == "line"]
        used: set[str] = set()
        steps = []
        for n, call in enumerate(calls, start=1):
            fitting = [(t, l) for t, l in ctx.example_lines.get(call.action, []) if _fits(l, lines) and not check_line(l)]
            # never the same line twice in a plan, unless the lore has no other line for this action
            options = [(t, l) for t, l in fitting if l not in used] or fitting
            if options:
                title, line = rng.choice(options)
            else:
                title, line = call.action.replace("_", " ").capitalize(), ctx.ruleset.actions[call.action].description
            used.add(line)
            steps.append(Step(n, title.replace("*", "").strip() or call.action, call.action, tuple(call.args.items()), line))
        return steps


def _fits(line: str, line_rules: list) -> bool:
    words = len(line.split())
    return all((c.min_words is None or words >= c.min_words) and (c.max_words is None or words <= c.max_words) for c in line_rules)


class RuleBasedVerifier:
    """Scores in [0, 1]: 0.6 for the simulator's verdict (mandatory: a plan that breaks a rule or
    misses the goal stays below 0.4), up to 0.25 for lines in the species' voice, 0.15 for clean
    guardrails (a guardrail breach caps the score at 0.2)."""

    def verify(self, job: TrajectoryJob, retrieval: Retrieval, plan_text: str) -> Verdict:
        sc, ctx = job.scenario, job.species
        try:
            steps = parse_plan(plan_text)
        except StepFormatError as exc:
            return Verdict(0.0, [f"format: {exc}"], {"simulator": 0.0, "voice": 0.0, "guardrails": 0.0}, False)
        result = ctx.simulator.run(sc.state, steps, sc.goal)
        reasons = [f"step {v.step}: {v.message} (rule {v.rule})" for v in result.violations]
        if result.goal_failed:
            reasons.append(f"the goal {sc.goal} failed: {ctx.ruleset.goals[sc.goal].description} was ruined")
        elif not result.goal_reached:
            reasons.append(f"the plan ends without reaching the goal {sc.goal}: {ctx.ruleset.goals[sc.goal].description}")
        legal = 1 - len({v.step for v in result.violations}) / max(1, len(steps))
        simulator = 1.0 if result.success else 0.5 * legal
        findings = [(s.number, f) for s in steps for f in check_line(s.line) + check_line(s.title)]
        reasons += [f"step {n}: {f.reason()}" for n, f in findings]
        voice = self.voice_score(job, steps)
        if voice < 0.5:
            reasons.append(f"only {voice:.0%} of the lines sound like a {sc.species}; use the lore's voice")
        if len({s.line for s in steps}) < len(steps):
            reasons.append("the same line is spoken twice")
            voice *= 0.5
        guard = 0.0 if findings else 1.0
        score = SIMULATOR_WEIGHT * simulator + VOICE_WEIGHT * voice + GUARDRAIL_WEIGHT * guard
        if not result.success:
            score = min(score, 0.4)
        if findings:
            score = min(score, 0.2)
        return Verdict(round(score, 4), reasons, {"simulator": simulator, "voice": round(voice, 4), "guardrails": guard},
                       result.success)

    @staticmethod
    def voice_score(job: TrajectoryJob, steps: list[Step]) -> float:
        vocab = _species_vocabulary(job)
        if not steps:
            return 0.0
        return sum(1 for s in steps if set(tokenize(s.line)) & vocab) / len(steps)


_VOCAB_CACHE: dict[str, set[str]] = {}


def _species_vocabulary(job: TrajectoryJob) -> set[str]:
    lore = job.species.lore
    key = lore.content_hash
    if key not in _VOCAB_CACHE:
        words: set[str] = set()
        for p in lore.passages:
            if p.kind in ("voice", "example_line", "trait", "ability", "taboo", "weakness") and p.id not in job.species.quarantined:
                words.update(tokenize(p.text))
        _VOCAB_CACHE[key] = words
    return _VOCAB_CACHE[key]
