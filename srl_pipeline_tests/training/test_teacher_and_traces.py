"""The stale-Bronze decision and the traces' bookkeeping, on hand-made inputs."""

from __future__ import annotations

import pytest

from srl_pipeline.registry.records import APPROVED, ModelVersion
from srl_pipeline.training.plan_rollout import PlanRollout
from srl_pipeline.training.teacher import NoTeacher, adapter_problems, choose_bronze
from srl_pipeline.training.traces import summarize_plays

CURRENT = {"base_model": "base/bronze", "adapter": "artifacts/rlvr_adapter/lich", "adapter_version": "new"}
REGISTERED = ModelVersion(species="lich", tier="bronze", version=3, status=APPROVED, model="srl_rlvr",
                          adapter_uri="registry/adapters/lich/bronze/old", adapter_version="old", base_model="base/bronze")


def _adapter(tmp_path):
    (tmp_path / "adapter_model.safetensors").write_bytes(b"w")
    return tmp_path


def test_a_healthy_bronze_teaches_and_a_failed_or_unbounded_one_does_not(tmp_path):
    folder = _adapter(tmp_path)
    good = {"status": "completed", "history": [{"loss": 0.5}], "kl_window_max": 0.05}
    assert adapter_problems(folder, good, 0.1, None) == []
    assert adapter_problems(folder, {**good, "kl_window_max": 0.3}, 0.1, None) == ["KL to its reference 0.3 above the bound 0.1"]
    assert adapter_problems(folder, {**good, "history": [{"loss": float("nan")}]}, 0.1, None) == ["a logged loss is not finite"]
    assert adapter_problems(folder, {**good, "status": "kl_bound_exceeded"}, 0.1, None) == ["training status 'kl_bound_exceeded'"]
    failed = adapter_problems(folder, good, 0.1, {"error": "RuntimeError: spot lost"})
    assert failed == ["its latest training failed: RuntimeError: spot lost"]
    assert adapter_problems(tmp_path / "none", None, 0.1, None) == [f"no trained adapter at {tmp_path / 'none'}"]


def test_the_fallback_is_the_registered_bronze_and_without_one_it_fails_clearly():
    healthy = choose_bronze(CURRENT, [], REGISTERED)
    assert not healthy.stale and healthy.adapter == CURRENT["adapter"] and healthy.registry_version is None
    stale = choose_bronze(CURRENT, ["its latest training failed: boom"], REGISTERED)
    assert stale.stale and stale.adapter == REGISTERED.adapter_uri and stale.registry_version == 3
    assert "last registered Bronze, v3" in stale.reason and "boom" in stale.reason
    with pytest.raises(NoTeacher, match="no Bronze is registered yet"):
        choose_bronze(CURRENT, ["boom"], None)


def test_plays_are_counted_by_goal():
    def play(goal, outcome):
        return PlanRollout(0, 0, goal, outcome=outcome)

    s = summarize_plays([(play("a", "success"), True), (play("a", "success"), False), (play("a", "violation"), False),
                         (play("b", "unfinished"), False)])
    assert (s["plays"], s["successes"], s["kept"], s["success_rate"]) == (4, 2, 1, 0.5)
    assert s["by_goal"]["a"] == {"plays": 3, "successes": 2, "kept": 1, "success_rate": 0.6667}
    assert s["by_goal"]["b"]["success_rate"] == 0.0
    assert summarize_plays([]) == {"plays": 0, "successes": 0, "kept": 0, "success_rate": 0.0, "by_goal": {}}


def test_a_play_is_judged_and_kept_as_the_engine_numbered_its_turns():
    """The model may write "3." on its second turn (the simulator plays turns in order and ignores
    the number); the verifier's plan parser would refuse that plan, so the play is judged, and its
    trace written, with each step numbered by its turn."""
    from srl_pipeline.collaboration.jobs import TrajectoryJob
    from srl_pipeline.collaboration.offline_roles import LexicalRetriever, RuleBasedVerifier, SearchPlanner
    from srl_pipeline.game.steps import parse_plan
    from srl_pipeline.training.plan_rollout import PlanTask, Turn
    from srl_pipeline.training.traces import played_plan, trace_rows, verify_play
    from srl_pipeline_tests.collaboration.helpers import jobs_for, species_context

    ctx = species_context("vampire")
    job, steps = next((j, s) for j in jobs_for(ctx, count=20)
                      if len(s := SearchPlanner().plan(j, LexicalRetriever().retrieve(j), [], 1).split("\n")) >= 2)
    misnumbered = [s if i == 0 else s.replace(f"{i + 1}. ", f"{i + 2}. ", 1) for i, s in enumerate(steps)]
    play = PlanRollout(0, 0, job.scenario.goal, outcome="success",
                       turns=[Turn("prompt", f"<think>x</think>\n{s}", [], s) for s in misnumbered])
    task, verifier = PlanTask(job.scenario, "", ""), RuleBasedVerifier()
    assert verifier.verify(job, None, "\n".join(play.plan)).score == 0.0          # as the model wrote it
    assert [s.number for s in parse_plan("\n".join(played_plan(play)))] == list(range(1, len(steps) + 1))
    score = verify_play(play, task, verifier, ctx)
    assert score == verifier.verify(TrajectoryJob(job.scenario, ctx), None, "\n".join(steps)).score >= 0.7
    rows = trace_rows(play, task, "train", score)
    assert [r["completion"] for r in rows] == [f"<think>x</think>\n{s}" for s in steps]
