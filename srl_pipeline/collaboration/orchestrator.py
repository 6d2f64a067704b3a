"""retrieve -> plan -> verify, regenerating with the verifier's reasons (at most `max_attempts`),
for many scenarios concurrently, with a content cache.

Every job yields exactly one result, in input order: accepted, or rejected with its reasons.
Model-side failures (HTTP errors after retries, malformed or off-format responses, a planner that
finds nothing) are failed attempts, counted and reported, never crashes or silent drops.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..game.steps import StepFormatError, parse_plan
from .cache import TrajectoryCache, touched_rules_fingerprint, trajectory_key
from .jobs import Retrieval, TrajectoryJob, Verdict
from .llm import LLMError
from .offline_roles import PlanningFailed
from .settings import CollaborationSettings


class Retriever(Protocol):
    def retrieve(self, job: TrajectoryJob) -> Retrieval: ...


class Planner(Protocol):
    def plan(self, job: TrajectoryJob, retrieval: Retrieval, feedback: list[str], attempt: int) -> str: ...


class Verifier(Protocol):
    def verify(self, job: TrajectoryJob, retrieval: Retrieval, plan_text: str) -> Verdict: ...


ATTEMPT_ERRORS = (LLMError, StepFormatError, PlanningFailed, ValueError)


@dataclass
class Attempt:
    number: int
    score: float | None
    reasons: list[str]
    error: str | None = None  # e.g. "planner: malformed"


@dataclass
class TrajectoryResult:
    scenario_id: str
    species: str
    split: str
    goal: str
    accepted: bool
    score: float
    plan: str
    steps: list[str]
    attempts: list[Attempt]
    reasons: list[str]
    retrieved: list[str]
    quarantined: list[str]
    rules_version: str
    touched_rules: str
    cache_hit: bool = False
    seconds: float = 0.0
    components: dict[str, float] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> "TrajectoryResult":
        d = dict(d)
        d["attempts"] = [Attempt(**a) for a in d["attempts"]]
        return cls(**d)

    @property
    def rejection_reason(self) -> str:
        """A short class of why it was rejected, for the metadata's tally."""
        if self.accepted:
            return ""
        last = self.attempts[-1] if self.attempts else None
        if last and last.error:
            return last.error.split(":")[0] + ": " + last.error.split(":")[1].strip() if ":" in last.error else last.error
        text = " ".join(self.reasons)
        for key in ("harmful", "injection", "fourth wall", "out of character", "format", "not reaching the goal",
                    "failed", "rule", "sound like"):
            if key in text:
                return key
        return "low score"


class Orchestrator:
    def __init__(self, settings: CollaborationSettings, retriever: Retriever, planner: Planner, verifier: Verifier,
                 cache: TrajectoryCache | None = None):
        self.settings = settings
        self.retriever, self.planner, self.verifier = retriever, planner, verifier
        self.cache = cache
        self._lock = threading.Lock()
        self.stats = collections.Counter()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def run(self, jobs: list[TrajectoryJob]) -> list[TrajectoryResult]:
        """All jobs, concurrently (bounded), results in input order."""
        workers = max(1, min(self.settings.max_concurrency, len(jobs) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trajectory") as pool:
            return list(pool.map(self.run_one, jobs))

    def run_one(self, job: TrajectoryJob) -> TrajectoryResult:
        started = time.monotonic()
        sc, ctx = job.scenario, job.species
        key = trajectory_key(sc, ctx.lore.content_hash, self.settings.cache_identity())
        cached = self._from_cache(key, job)
        if cached is not None:
            self._count("cache_hits")
            return cached
        self._count("cache_misses")
        attempts: list[Attempt] = []
        feedback: list[str] = []
        retrieval: Retrieval | None = None
        best: tuple[Verdict, str] | None = None
        for n in range(1, self.settings.max_attempts + 1):
            self._count("attempts")
            stage = "retriever"
            try:
                if retrieval is None:
                    retrieval = self.retriever.retrieve(job)
                stage = "planner"
                plan_text = self.planner.plan(job, retrieval, feedback, n)
                stage = "verifier"
                verdict = self.verifier.verify(job, retrieval, plan_text)
            except ATTEMPT_ERRORS as exc:
                kind = getattr(exc, "kind", type(exc).__name__)
                attempts.append(Attempt(n, None, [str(exc)[:500]], f"{stage}: {kind}"))
                self._count(f"failed_attempts.{stage}.{kind}")
                feedback = [f"The previous attempt failed ({stage}: {kind}); answer exactly in the step format."]
                continue
            attempts.append(Attempt(n, verdict.score, verdict.reasons))
            if best is None or verdict.score > best[0].score:
                best = (verdict, plan_text)
            if verdict.accepted(self.settings.accept_score):
                break
            feedback = verdict.reasons
        accepted = best is not None and best[0].accepted(self.settings.accept_score)
        verdict, plan_text = best if best is not None else (None, "")
        parsed = parse_plan(plan_text) if plan_text and verdict and verdict.components.get("simulator", 0) > 0 else []
        steps = [s.render() for s in parsed]
        used = [s.action for s in parsed] if accepted else None
        result = TrajectoryResult(
            scenario_id=sc.id, species=sc.species, split=sc.split, goal=sc.goal, accepted=accepted,
            score=verdict.score if verdict else 0.0, plan=plan_text if accepted else plan_text[:4000], steps=steps,
            attempts=attempts, reasons=[] if accepted else (attempts[-1].reasons if attempts else ["no attempt made"]),
            retrieved=retrieval.ids if retrieval else [], quarantined=retrieval.quarantined if retrieval else [],
            rules_version=ctx.ruleset.version,
            touched_rules=touched_rules_fingerprint(ctx.ruleset, sc.goal, used),
            seconds=round(time.monotonic() - started, 4), components=verdict.components if verdict else {})
        self._count("accepted" if accepted else "rejected")
        if self.cache is not None:
            self.cache.put(key, result.to_record())
        return result

    def _from_cache(self, key: str, job: TrajectoryJob) -> TrajectoryResult | None:
        if self.cache is None:
            return None
        record = self.cache.get(key)
        if record is None:
            return None
        try:
            result = TrajectoryResult.from_record(record)
        except (TypeError, KeyError):
            return None
        sc, ctx = job.scenario, job.species
        plan = parse_plan(result.plan) if result.accepted else None
        used = [s.action for s in plan] if plan is not None else None
        if touched_rules_fingerprint(ctx.ruleset, sc.goal, used) != result.touched_rules:
            self._count("cache_invalidated_by_rules")
            return None
        if plan is not None and not ctx.simulator.run(sc.state, plan, sc.goal).success:
            self._count("cache_invalidated_by_rules")
            return None
        result.cache_hit = True
        result.split = sc.split
        result.scenario_id = sc.id
        result.rules_version = ctx.ruleset.version
        return result
