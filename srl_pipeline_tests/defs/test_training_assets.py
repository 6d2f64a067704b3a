"""The training side through Dagster: base_models, srl_adapter -> rlvr_adapter -> model_evaluation
(main job), the experiments job (SFT, RLVR-only, their evaluation) and the report. The training
entrypoint runs as a subprocess through Dagster Pipes, metrics come back, adapters are promoted
atomically, the checks run."""

import json
from pathlib import Path

import dagster as dg
import pytest

from srl_pipeline.defs.training.assets import TIERS

from .conftest import Runner, check_results, make_resources, materialized


def test_base_models_are_built_per_tier_in_hf_format(trained):
    runner, base, _, artifacts, *_ = trained
    assert base.success
    for tier in TIERS:
        path = artifacts / "base_models" / tier
        assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
        md = runner.instance.get_latest_materialization_event(dg.AssetKey(["base_models", tier])).asset_materialization.metadata
        assert md["parameters"].value > 0 and md["vocabulary"].value > 0
    sizes = [runner.instance.get_latest_materialization_event(dg.AssetKey(["base_models", t])).asset_materialization
             .metadata["parameters"].value for t in TIERS]
    assert sizes[0] > sizes[2]  # bronze is the largest tier, gold the smallest


def test_srl_adapter_trains_through_pipes_and_reports_back(trained):
    runner, _, result, artifacts, *_ = trained
    assert "srl_adapter" in materialized(result)
    adapter = artifacts / "srl_adapter" / "zombie"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "metrics.json").is_file()
    assert not [p for p in adapter.parent.iterdir() if p.name.startswith(".zombie.tmp")]  # promoted, no leftovers
    metrics = json.loads((adapter / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and metrics["status"] == "completed"
    mat = runner.instance.get_latest_materialization_event(dg.AssetKey("srl_adapter")).asset_materialization
    assert mat.partition == "zombie"
    assert mat.metadata["global_step"].value == 2 and "curves" in mat.metadata
    for curve in ("reward curve", "KL curve"):  # short enough for the UI to draw on the page
        text = mat.metadata[curve].value
        assert text.startswith("![") and "data:image/svg+xml;base64," in text and len(text) < 1000
    checks = check_results(result)
    for name in ("srl_training_finite", "srl_kl_bounded", "srl_adapter_loads"):
        assert checks[name] is True, (name, checks)
    assert "srl_reward_above_base" in checks  # evaluated; tiny 2-step models need not beat the base


def test_checkpoints_belong_to_one_job(trained):
    runner, _, _, artifacts, *_ = trained
    from srl_pipeline.training.job_identity import checkpoint_key

    training = runner.defs.resources["training"]
    dataset = artifacts / "srl_dataset" / "zombie.json"
    base = str(artifacts / "base_models" / "bronze")
    hp = training.hyperparameters("srl")

    def folder(hyperparameters: dict, steps: int) -> Path:
        key = checkpoint_key(dataset, base, hyperparameters, steps, training.seed)
        return training.layout().checkpoints("srl_adapter", "zombie", key)

    same = folder(hp, 2)
    assert same == folder(hp, 2)
    assert (same / "ckpt-2").is_dir()  # the run above checkpointed into its own job's folder
    assert folder({**hp, "learning_rate": 1.0}, 2) != same
    assert folder(hp, 3) != same


def test_rlvr_starts_from_the_srl_adapter_and_the_evaluation_covers_the_test_split(trained):
    runner, _, result, artifacts, *_ = trained
    assert {"rlvr_adapter", "model_evaluation"} <= materialized(result), materialized(result)
    metrics = json.loads((artifacts / "rlvr_adapter" / "zombie" / "metrics.json").read_text())
    assert metrics["stage"] == "rlvr" and metrics["kl_reference"] == "initial_adapter"
    spec = json.loads((artifacts / "rlvr_adapter" / "zombie" / "job_spec.json").read_text())
    assert spec["initial_adapter"] == str(artifacts / "srl_adapter" / "zombie")
    checks = check_results(result)
    for name in ("rlvr_training_finite", "rlvr_kl_bounded", "rlvr_adapter_loads", "evaluation_complete"):
        assert checks[name] is True, (name, checks)
    assert "rlvr_success_not_below_srl" in checks and "evaluation_kl_within_target" in checks
    evaluation = json.loads((artifacts / "model_evaluation" / "zombie.json").read_text())
    dataset = json.loads((artifacts / "srl_dataset" / "zombie.json").read_text())
    n_test = sum(1 for t in dataset["plan_tasks"] if t["split"] == "test")
    assert evaluation["test_tasks"] == n_test > 0
    assert set(evaluation["models"]) == {"base", "srl", "srl_rlvr", "silver", "gold", "random_legal", "solver"}
    assert evaluation["handwritten_tasks"] == 10  # configs/eval/zombie_encounters.jsonl
    for name, r in evaluation["models"].items():
        assert r["tasks"] == n_test and 0.0 <= r["success_greedy"] <= 1.0 and r["k"] == (0 if name == "solver" else 2)
        assert r["handwritten"]["tasks"] == 10 and r["handwritten_success_greedy"] == r["handwritten"]["success_greedy"]
        if name not in ("solver", "random_legal"):   # the models play the hand-written suite greedily only
            assert r["handwritten"]["k"] == 0 and r["handwritten"]["success_avg_k"] is None
    # the reference policies never break a rule; the test profile's 2 turns cut the longer plans short
    for name in ("solver", "random_legal"):
        for suite in (evaluation["models"][name], evaluation["models"][name]["handwritten"]):
            assert suite["outcomes"]["violation"] == 0 and suite["outcomes"]["format_error"] == 0, name
    assert evaluation["models"]["solver"]["success_greedy"] > 0
    assert evaluation["models"]["base"]["kl_to_base"] == 0.0
    mat = runner.instance.get_latest_materialization_event(dg.AssetKey("model_evaluation")).asset_materialization
    assert "comparison" in mat.metadata and "table" in mat.metadata and "weakness" in mat.metadata
    assert len(mat.metadata["comparison (greedy success)"].value) < 1000   # inline, not behind a click
    table = mat.metadata["models"].value
    rows = {r.data["model"]: r.data for r in table.records}
    assert list(rows) == ["Random legal", "Base", "SRL", "SRL→RLVR", "Silver", "Gold", "Solver"]   # the catalogue's order
    assert rows["Base"]["success greedy (%)"] == round(100 * evaluation["models"]["base"]["success_greedy"], 1)


def test_experiments_and_the_report_stay_off_the_production_path(trained):
    runner, _, main, artifacts, experiments, report = trained
    assert not {"sft_adapter", "rlvr_only_adapter", "experiment_evaluation"} & materialized(main)
    assert {"sft_adapter", "rlvr_only_adapter", "experiment_evaluation"} <= materialized(experiments)
    assert experiments.success and report.success
    rlvr_only = json.loads((artifacts / "rlvr_only_adapter" / "zombie" / "metrics.json").read_text())
    assert rlvr_only["kl_reference"] == "base_model"
    text = (artifacts / "report" / "report.md").read_text()
    for label in ("Base", "SFT", "RLVR-only", "SRL", "SRL→RLVR", "| zombie |", "| average |"):
        assert label in text
    assert (artifacts / "report" / "zombie.png").is_file() and (artifacts / "report" / "average.png").is_file()
    mat = runner.instance.get_latest_materialization_event(dg.AssetKey("experiment_report")).asset_materialization
    table = mat.metadata["success greedy (%)"].value   # the report's table itself, on the asset's page
    assert [r.data["species"] for r in table.records] == ["zombie"]   # one species: no "average" row repeating it
    assert {c.name for c in table.schema.columns} >= {"species", "Base (%)", "SFT (%)", "SRL (%)"}
    verdict = mat.metadata["verdict"].value   # a win, or a lead the test scenarios cannot separate (tiny models)
    assert " wins with " in verdict or (" leads with " in verdict and "not a win" in verdict)
    assert "95 % interval" in verdict   # the evaluations keep per-scenario outcomes
    for job in ("main", "rules_refresh"):  # schedules and sensors run these: no experiments in them
        keys = {k.to_user_string() for k in runner.defs.resolve_job_def(job).asset_layer.selected_asset_keys}
        assert not keys & {"sft_adapter", "rlvr_only_adapter", "experiment_evaluation", "experiment_report"}


def test_an_adapters_version_follows_its_files_and_its_provenance_names_where_it_is_published(tmp_path):
    from srl_pipeline.core.atomic import atomic_write_json, read_json
    from srl_pipeline.defs.training.assets import adapter_version, publish_paths

    def adapter(name: str, weights: bytes) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(weights)
        (folder / "adapter_config.json").write_text('{"r": 8}')
        atomic_write_json(folder / "metrics.json", {"adapter_dir": str(folder), "train_seconds": 1.5,
                                                      "summary": {"adapter_dir": str(folder)}})
        atomic_write_json(folder / "job_spec.json", {"output_dir": str(folder)})
        return folder

    a, b, c = adapter(".x.tmp-1", b"w"), adapter(".x.tmp-2", b"w"), adapter(".x.tmp-3", b"other")
    assert adapter_version(a) == adapter_version(b) != adapter_version(c)  # timings and paths do not count
    final = tmp_path / "srl_adapter" / "zombie"
    assert publish_paths(a, final)["adapter_dir"] == str(final)
    assert read_json(a / "metrics.json")["adapter_dir"] == str(final)
    assert read_json(a / "metrics.json")["summary"]["adapter_dir"] == str(final)   # the UI metadata's source
    assert read_json(a / "job_spec.json")["output_dir"] == str(final)
