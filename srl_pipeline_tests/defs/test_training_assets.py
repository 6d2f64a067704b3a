"""base_models and srl_adapter through Dagster: the training entrypoint runs as a subprocess
through Dagster Pipes, metrics come back, the adapter is promoted atomically, the checks run."""

import json
from pathlib import Path

import dagster as dg
import pytest

from srl_pipeline.defs.training_assets import TIERS

from .conftest import Runner, check_results, make_resources, materialized


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("training")
    import shutil

    from .conftest import GAME_SRC

    game = tmp / "game"
    shutil.copytree(GAME_SRC, game)
    runner = Runner(make_resources(game, tmp / "artifacts"))
    base = runner.defs.resolve_job_def("build_base_models").execute_in_process(instance=runner.instance, raise_on_error=False)
    result = runner.run("zombie", job="main")
    return runner, base, result, tmp / "artifacts"


def test_base_models_are_built_per_tier_in_hf_format(trained):
    runner, base, _, artifacts = trained
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
    runner, _, result, artifacts = trained
    assert "srl_adapter" in materialized(result)
    adapter = artifacts / "srl_adapter" / "zombie"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "metrics.json").is_file()
    assert not [p for p in adapter.parent.iterdir() if p.name.startswith(".zombie.tmp")]  # promoted, no leftovers
    metrics = json.loads((adapter / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and metrics["status"] == "completed"
    mat = runner.instance.get_latest_materialization_event(dg.AssetKey("srl_adapter")).asset_materialization
    assert mat.partition == "zombie"
    assert mat.metadata["global_step"].value == 2 and "curves" in mat.metadata
    checks = check_results(result)
    for name in ("srl_training_finite", "srl_kl_bounded", "srl_adapter_loads"):
        assert checks[name] is True, (name, checks)
    assert "srl_reward_above_base" in checks  # evaluated; tiny 2-step models need not beat the base


def test_checkpoints_belong_to_one_job(trained):
    runner, _, _, artifacts = trained
    from srl_pipeline.defs.training_assets import checkpoint_dir

    training = runner.defs.resources["training"]
    dataset = artifacts / "srl_dataset" / "zombie.json"
    base = str(artifacts / "base_models" / "bronze")
    hp = training.hyperparameters("srl")
    same = checkpoint_dir(training, "srl_adapter", "zombie", dataset, base, hp, 2)
    assert same == checkpoint_dir(training, "srl_adapter", "zombie", dataset, base, hp, 2)
    assert (same / "ckpt-2").is_dir()  # the run above checkpointed into its own job's folder
    assert checkpoint_dir(training, "srl_adapter", "zombie", dataset, base, {**hp, "learning_rate": 1.0}, 2) != same
    assert checkpoint_dir(training, "srl_adapter", "zombie", dataset, base, hp, 3) != same
