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
