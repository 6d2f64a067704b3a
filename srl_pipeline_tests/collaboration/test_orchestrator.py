"""The orchestrator: retrieve -> plan -> verify, regenerate on the verifier's reasons, at most 3 attempts."""

import threading

import pytest

from srl_pipeline.collaboration.llm import LLMError
from srl_pipeline.collaboration.offline_roles import LexicalRetriever, RuleBasedVerifier
from srl_pipeline.collaboration.orchestrator import Orchestrator
from srl_pipeline.collaboration.settings import CollaborationSettings
from srl_pipeline.game.steps import parse_plan

from .helpers import CountingPlanner, jobs_for, species_context


@pytest.fixture(scope="module")
def ctx():
    return species_context("vampire")


def _orchestrator(planner, **settings) -> Orchestrator:
    return Orchestrator(CollaborationSettings(**settings), LexicalRetriever(), planner, RuleBasedVerifier())


def test_offline_collaboration_accepts_verified_varied_plans(ctx):
    jobs = jobs_for(ctx, 24)
    results = _orchestrator(CountingPlanner()).run(jobs)
    assert [r.scenario_id for r in results] == [j.scenario.id for j in jobs]
    assert all(r.accepted and r.score >= 0.7 and len(r.attempts) == 1 for r in results)
    for r, j in zip(results, jobs):
        assert ctx.simulator.run(j.scenario.state, parse_plan(r.plan), j.scenario.goal).success
    plans = {tuple(s.split(" | ")[0].split(" ", 1)[1] for s in r.steps) for r in results}
    assert len(plans) > len(results) / 2  # different scenarios, different plans
    used = {(s.split("** ")[1].split("(")[0], s.split(" | ")[1]) for r in results for s in r.steps}
    actions = {a for a, _ in used}
    assert len(used) >= 1.5 * len(actions)  # several of the lore's lines per action, not one template


def _break_first_step(plan: str) -> str:
    first, *rest = plan.split("\n")
    return "\n".join([first.split(" ", 1)[0] + " **Dance a jig** dance_a_jig() | \"A jig, mortal, for your pleasure.\"", *rest])


def test_rejected_attempt_is_regenerated_with_the_verifiers_reasons(ctx):
    job = jobs_for(ctx, 4)[0]
    planner = CountingPlanner(script=lambda j, attempt, good: _break_first_step(good) if attempt == 1 else good)
    [result] = _orchestrator(planner).run([job])
    assert result.accepted and len(result.attempts) == 2
    assert result.attempts[0].score < 0.7 and any("dance_a_jig" in r for r in result.attempts[0].reasons)
    (_, a1, fb1), (_, a2, fb2) = planner.calls
    assert (a1, fb1) == (1, [])
    assert a2 == 2 and fb2 == result.attempts[0].reasons


def test_at_most_three_attempts_then_rejected_with_reasons(ctx):
    job = jobs_for(ctx, 4)[0]
    planner = CountingPlanner(script=lambda j, attempt, good: _break_first_step(good))
    [result] = _orchestrator(planner).run([job])
    assert not result.accepted and len(result.attempts) == 3 and len(planner.calls) == 3
    assert any("not in the catalogue" in r for r in result.reasons)
    assert result.rejection_reason


def test_malformed_responses_are_failed_attempts_not_crashes(ctx):
    jobs = jobs_for(ctx, 6)

    def flaky(job, attempt, good):
        if attempt == 1:
            raise LLMError("no steps in the answer", kind="malformed")
        if attempt == 2:
            return "Sure! Here is my plan: scare them."
        return good

    orch = _orchestrator(CountingPlanner(script=flaky))
    results = orch.run(jobs)
    assert len(results) == len(jobs) and all(r.accepted for r in results)
    assert all([a.error for a in r.attempts] == ["planner: malformed", None, None] for r in results)
    assert all(r.attempts[1].score == 0.0 and r.attempts[1].reasons[0].startswith("format:") for r in results)
    assert orch.stats["failed_attempts.planner.malformed"] == len(jobs)


def test_every_job_gets_exactly_one_result_under_concurrency(ctx):
    jobs = jobs_for(ctx, 40)
    seen, lock = [], threading.Lock()

    def script(job, attempt, good):
        with lock:
            seen.append(threading.current_thread().name)
        if hash(job.scenario.id) % 3 == 0:
            raise LLMError("upstream said 500 five times", kind="server_error")
        return good

    results = _orchestrator(CountingPlanner(script=script), max_concurrency=8).run(jobs)
    assert [r.scenario_id for r in results] == [j.scenario.id for j in jobs]
    failing = [j.scenario.id for j in jobs if hash(j.scenario.id) % 3 == 0]
    assert sorted(r.scenario_id for r in results if not r.accepted) == sorted(failing)
    assert all(len(r.attempts) == 3 for r in results if not r.accepted)
    assert len(set(seen)) > 1
