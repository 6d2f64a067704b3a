"""The OpenAI-compatible roles end to end against a real HTTP server on loopback: good answers,
malformed and off-format answers, 429 with Retry-After, 500s and answers slower than the timeout.
Nothing crashes, nothing is silently dropped or duplicated, retries and failures are counted."""

import pytest

from srl_pipeline.collaboration.factory import build_collaboration
from srl_pipeline.collaboration.settings import CollaborationSettings, RoleSettings

from .chat_server import completion, malformed_json, rate_limited, server_error, slow
from .helpers import jobs_for, species_context
from .scripted_team import ScriptedTeam, stable_fraction


@pytest.fixture(scope="module")
def jobs():
    return jobs_for(species_context("werewolf"), 30)


def _settings(url: str, retriever: str = "offline", **role) -> CollaborationSettings:
    base = dict(backend="openai", base_url=url, model="scripted", timeout_s=0.5, max_retries=3,
                backoff_base_s=0.01, backoff_max_s=0.05, usd_per_1k_prompt_tokens=0.5,
                usd_per_1k_completion_tokens=1.5) | role
    return CollaborationSettings(retriever=RoleSettings(**(base | {"backend": retriever})), planner=RoleSettings(**base),
                                 verifier=RoleSettings(**base), max_concurrency=8)


def test_good_answers_are_accepted_and_metered(chat_server_factory, jobs, monkeypatch):
    monkeypatch.setenv("SRL_LLM_API_KEY", "sk-test-not-a-secret")
    server = chat_server_factory(ScriptedTeam(jobs))
    # A timeout far above the server's answer time: this test counts calls, and under a loaded CPU one answer
    # slower than 0.5 s was retried (31 verifier calls for 30 jobs); the timeouts have their own test below.
    collab = build_collaboration(_settings(server.base_url, timeout_s=10.0), cache=None)
    results = collab.orchestrator.run(jobs)
    assert all(r.accepted for r in results) and len(results) == len(jobs)
    usage = collab.meter.snapshot()
    assert usage["planner"]["calls"] == len(jobs) and usage["verifier"]["calls"] == len(jobs)
    assert usage["planner"]["prompt_tokens"] == 400 * len(jobs)
    assert usage["planner"]["cost_usd"] == pytest.approx(len(jobs) * (0.4 * 0.5 + 0.12 * 1.5))
    assert all(r.components["voice"] == 0.9 for r in results)
    collab.close()


def test_faults_are_retried_or_counted_never_lost(chat_server_factory, jobs, monkeypatch):
    monkeypatch.setenv("SRL_LLM_API_KEY", "sk-test-not-a-secret")
    state: dict[str, int] = {}

    def fault(kind, text, index):
        if kind != "planner":
            return None
        seen = state[text] = state.get(text, 0) + 1
        x = stable_fraction(text)
        if x < 0.15:
            return rate_limited(0.02) if seen == 1 else None           # 429 once, then fine
        if x < 0.30:
            return server_error(503) if seen <= 2 else None            # two 500s, then fine
        if x < 0.45:
            return completion("Sure! Here is a plan: scare them off.") if seen == 1 else None  # off-format once
        if x < 0.55:
            return malformed_json() if seen == 1 else None             # broken body once
        if x < 0.65:
            return slow(completion("too late"), 3.0) if seen <= 4 else None  # slower than the timeout, every retry
        return None

    server = chat_server_factory(ScriptedTeam(jobs, fault))
    sleeps: list[float] = []
    collab = build_collaboration(_settings(server.base_url, timeout_s=1.0), cache=None)   # margin for a loaded CPU
    for c in collab.clients:
        c._sleep = sleeps.append  # record backoff instead of sleeping
    results = collab.orchestrator.run(jobs)
    collab.close()

    assert [r.scenario_id for r in results] == [j.scenario.id for j in jobs]  # none lost, none duplicated
    kinds = {j.scenario.id: stable_fraction(describe(j)) for j in jobs}
    for r in results:
        x = kinds[r.scenario_id]
        if 0.30 <= x < 0.55:  # off-format or malformed on attempt 1: a failed attempt, then accepted
            assert r.accepted and r.attempts[0].error == "planner: malformed" and len(r.attempts) == 2
        elif 0.55 <= x < 0.65:  # timed out after all retries on attempt 1, succeeds on attempt 2
            assert r.accepted and r.attempts[0].error == "planner: timeout"
        else:
            assert r.accepted and len(r.attempts) == 1
    usage = collab.meter.snapshot()["planner"]
    assert sum(1 for d in sleeps if d >= 0.02) >= sum(1 for x in kinds.values() if x < 0.15)  # Retry-After honoured
    assert usage["retries"] >= sum(1 for x in kinds.values() if x < 0.30)
    assert usage["by_error_kind"].get("rate_limited", 0) == sum(1 for x in kinds.values() if x < 0.15)
    assert usage["by_error_kind"].get("server_error", 0) == 2 * sum(1 for x in kinds.values() if 0.15 <= x < 0.30)
    assert usage["by_error_kind"].get("timeout", 0) == 4 * sum(1 for x in kinds.values() if 0.55 <= x < 0.65)
    # client-level failures: broken bodies and timeouts after all retries; off-format plans are
    # valid HTTP answers that the planner role rejects, counted by the orchestrator
    assert usage["failures"] == sum(1 for x in kinds.values() if 0.45 <= x < 0.65)
    stats = collab.orchestrator.stats
    assert stats["failed_attempts.planner.malformed"] == sum(1 for x in kinds.values() if 0.30 <= x < 0.55)
    assert stats["failed_attempts.planner.timeout"] == sum(1 for x in kinds.values() if 0.55 <= x < 0.65)


def describe(job):
    from srl_pipeline.collaboration.prompts import describe_scenario

    return describe_scenario(job.scenario, job.species.ruleset)


def test_verifier_cannot_override_the_guardrails(chat_server_factory, jobs, monkeypatch):
    monkeypatch.setenv("SRL_LLM_API_KEY", "sk-test-not-a-secret")
    team = ScriptedTeam(jobs[:3])
    for text, plan in team.plans.items():
        first, *rest = plan.split("\n")
        team.plans[text] = "\n".join([first.rsplit(" | ", 1)[0] + ' | "As an AI language model, I bid you leave."', *rest])
    server = chat_server_factory(team)
    collab = build_collaboration(_settings(server.base_url), cache=None)
    results = collab.orchestrator.run(jobs[:3])
    collab.close()
    assert not any(r.accepted for r in results)
    assert team.by_kind.get("verifier", 0) == 0  # rejected by the rules before any verifier call
    assert all("fourth wall" in " ".join(r.reasons) for r in results)


def test_llm_retriever_validates_passage_ids(chat_server_factory, jobs, monkeypatch):
    monkeypatch.setenv("SRL_LLM_API_KEY", "sk-test-not-a-secret")
    lore_ids = [p.id for p in jobs[0].species.lore.passages][:3]

    def fault(kind, text, index):
        if kind == "retriever":
            return completion('{"passage_ids": ["not-a-passage"]}') if index % 2 == 0 else completion(
                '{"passage_ids": %s}' % str(lore_ids).replace("'", '"'))
        return None

    server = chat_server_factory(ScriptedTeam(jobs[:4], fault))
    collab = build_collaboration(_settings(server.base_url, retriever="openai"), cache=None)
    results = collab.orchestrator.run(jobs[:4])
    collab.close()
    assert len(results) == 4
    for r in results:
        errors = [a.error for a in r.attempts if a.error]
        assert all(e == "retriever: malformed" for e in errors)
        if r.accepted:
            assert set(r.retrieved) <= set(lore_ids)
