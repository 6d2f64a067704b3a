"""The cascade through Dagster: bronze_traces -> silver_adapter -> gold_adapter in the main run,
then, on a copy of that deployment, a Bronze whose training fails: the nightly cascade job still
runs and Silver and Gold distil from the last registered Bronze (and say so), warm-started from
their previous adapters."""

import json
import shutil

import dagster as dg
import pytest

from srl_pipeline.core.atomic import read_json
from srl_pipeline.defs.training.backends.local import LocalTrainingBackend

from .conftest import Runner, check_results, failure_messages, make_resources, materialized


def _metadata(runner, key: str):
    return runner.instance.get_latest_materialization_event(dg.AssetKey(key)).asset_materialization.metadata


def test_bronze_traces_report_plays_and_what_was_kept(trained):
    runner, _, result, artifacts, *_ = trained
    assert {"bronze_traces", "silver_adapter", "gold_adapter", "registered_models"} <= materialized(result)
    traces = read_json(artifacts / "bronze_traces" / "zombie.json")
    s = traces["summary"]
    dataset = read_json(artifacts / "srl_dataset" / "zombie.json")
    n_train = sum(t["split"] == "train" for t in dataset["plan_tasks"])
    assert s["plays"] == n_train + traces["fresh_scenarios"] and traces["fresh_scenarios"] == 2   # greedy only (test profile)
    assert s["kept"] <= s["successes"] <= s["plays"] and sum(g["plays"] for g in s["by_goal"].values()) == s["plays"]
    assert all(r["score"] >= 0.7 for r in traces["traces"])
    assert traces["teacher"]["stale"] is False and traces["teacher"]["adapter"].endswith("rlvr_adapter/zombie")
    md = _metadata(runner, "bronze_traces")
    assert md["plays"].value == s["plays"] and md["kept_plays"].value == s["kept"]
    assert {r.data["goal"] for r in md["by goal"].value.records} == set(s["by_goal"])
    if s["kept"] == 0:   # today's tiny Bronze usually: the students skip the warm start, and say so
        assert "skip their warm start" in md["warm start"].value
    assert check_results(result)["traces_verified"] is True


def test_silver_and_gold_are_distilled_from_the_tier_above_and_checked(trained):
    runner, _, result, artifacts, *_ = trained
    silver = read_json(artifacts / "silver_adapter" / "zombie" / "metrics.json")
    gold = read_json(artifacts / "gold_adapter" / "zombie" / "metrics.json")
    assert silver["stage"] == gold["stage"] == "distill" and silver["status"] == gold["status"] == "completed"
    assert silver["teacher"]["tier"] == "bronze" and gold["teacher"]["tier"] == "silver"
    assert gold["teacher"]["adapter"] == str(artifacts / "silver_adapter" / "zombie")
    assert silver["base_model"].endswith("base_models/silver") and gold["base_model"].endswith("base_models/gold")
    assert silver["warm_started"] is False and silver["from_scratch_train_seconds"] == silver["train_seconds"]
    for m in (silver, gold):
        assert m["on_policy_steps"] >= 1 and m["global_step"] == 2
        assert m["validation_kl_to_teacher_trained"] is not None and m["validation_kl_to_teacher_base"] > 0
        # from scratch, the student ships its best validation checkpoint: the untrained student and the last step
        assert [p["step"] for p in m["selection"]["curve"]] == [0, 2] and m["selection"]["best_step"] in (0, 2)
    spec = json.loads((artifacts / "gold_adapter" / "zombie" / "job_spec.json").read_text())
    assert spec["teacher_base_model"].endswith("base_models/silver") and spec["stage"] == "distill"
    checks = check_results(result)
    for name in ("silver_training_finite", "silver_adapter_loads", "gold_training_finite", "gold_adapter_loads"):
        assert checks[name] is True, (name, checks)
    assert "silver_closer_to_teacher" in checks and "gold_closer_to_teacher" in checks
    md = _metadata(runner, "gold_adapter")
    assert md["stale_teacher"].value is False and md["teacher"].value.startswith("silver ")


def test_model_evaluation_shows_every_tier_side_by_side(trained):
    runner, _, _, artifacts, *_ = trained
    evaluation = read_json(artifacts / "model_evaluation" / "zombie.json")
    params = {m: evaluation["models"][m]["parameters"] for m in ("srl_rlvr", "silver", "gold")}
    assert params["srl_rlvr"] > params["gold"] > 0
    assert all(evaluation["models"][m]["latency_ms_per_turn"] > 0 for m in params)
    md = _metadata(runner, "model_evaluation")
    rows = [r.data for r in md["tiers"].value.records]
    assert [r["tier"] for r in rows] == ["Bronze", "Silver", "Gold"]
    assert rows[2]["parameters"] == params["gold"]
    assert "tier comparison" in md and "**Gold**" in md["tier weakness"].value


class _RlvrFails(LocalTrainingBackend):
    """Bronze's RLVR job dies (a lost spot instance, a crash); every other job runs as usual."""

    def run(self, context, spec):
        if spec.stage == "rlvr":
            raise RuntimeError("simulated failure: the RLVR job died")
        return super().run(context, spec)


@pytest.fixture(scope="module")
def bronze_failed(trained, tmp_path_factory):
    """A copy of the trained deployment; Bronze's RLVR fails, then the nightly cascade job runs."""
    runner, _, _, artifacts, *_ = trained
    tmp = tmp_path_factory.mktemp("bronze_failed")
    shutil.copytree(artifacts, tmp / "artifacts", symlinks=True)
    game = tmp / "game"
    shutil.copytree(runner.defs.resources["game_data"].root, game)
    resources = make_resources(game, tmp / "artifacts")
    resources["training_backend"] = _RlvrFails()
    copy = Runner(resources)
    copy.instance.add_dynamic_partitions("species", ["zombie"])
    before = (tmp / "artifacts" / "rlvr_adapter" / "zombie" / "adapter_model.safetensors").read_bytes()
    failed = copy.defs.resolve_job_def("main").execute_in_process(
        instance=copy.instance, partition_key="zombie", asset_selection=[dg.AssetKey("rlvr_adapter")],
        raise_on_error=False)
    nightly = copy.run("zombie", job="cascade")
    return copy, failed, nightly, tmp / "artifacts", before


def test_a_failed_bronze_leaves_the_cascade_on_the_last_registered_bronze(bronze_failed):
    copy, failed, nightly, artifacts, before = bronze_failed
    assert not failed.success and "the RLVR job died" in failure_messages(failed)
    assert (artifacts / "rlvr_adapter" / "zombie" / "adapter_model.safetensors").read_bytes() == before
    assert (artifacts / "rlvr_adapter" / ".zombie.failed.json").is_file()
    assert nightly.success, failure_messages(nightly)
    assert materialized(nightly) == {"bronze_traces", "silver_adapter", "gold_adapter", "model_evaluation",
                                     "registered_models"}
    teacher = read_json(artifacts / "bronze_traces" / "zombie.json")["teacher"]
    assert teacher["stale"] is True and teacher["registry_version"] == 1
    assert "/registry/adapters/zombie/bronze/" in teacher["adapter"] and "the RLVR job died" in teacher["reason"]
    md = copy.instance.get_latest_materialization_event(dg.AssetKey("silver_adapter")).asset_materialization.metadata
    assert md["stale_teacher"].value is True and "last registered Bronze" in md["teacher_note"].value
    gold = read_json(artifacts / "gold_adapter" / "zombie" / "metrics.json")
    assert gold["teacher"]["stale"] is True
    registered = read_json(artifacts / "registered_models" / "zombie.json")["tiers"]
    assert registered["bronze"]["status"] == "skipped"    # a failed Bronze is never offered to the registry


def test_a_warm_started_run_reports_its_cost_against_from_scratch(bronze_failed):
    copy, _, _, artifacts, _ = bronze_failed
    silver = read_json(artifacts / "silver_adapter" / "zombie" / "metrics.json")
    assert silver["warm_started"] is True and silver["global_step"] == 1       # incremental_max_steps (test profile)
    spec = json.loads((artifacts / "silver_adapter" / "zombie" / "job_spec.json").read_text())
    assert spec["initial_adapter"] == str(artifacts / "silver_adapter" / "zombie")
    # one candidate: the registry's no-regression gate weighs it against production, no selection plays
    assert spec["hyperparameters"]["select_every"] == 0 and silver["selection"] is None
    assert silver["from_scratch_steps"] == 2 and silver["cost_vs_scratch"] == pytest.approx(
        silver["train_seconds"] / silver["from_scratch_train_seconds"], rel=1e-3)
    assert silver["new_traces"] == 0 or silver["sft_steps"] <= 1   # only traces it had not seen are warm-start data
