"""The SageMaker container contract: the entrypoint finds its spec in the ``spec`` channel and
points the spec's paths at the channels, /opt/ml/model and the checkpoint folder."""

from __future__ import annotations

import pytest

from srl_pipeline.training import entrypoint
from srl_pipeline.training.container import default_spec_path, in_container, resolve_for_container
from srl_pipeline.training.job_spec import TrainingJobSpec


def container_env(root, *channels) -> dict[str, str]:
    env = {"SM_MODEL_DIR": str(root / "model"), "SRL_CHECKPOINT_DIR": str(root / "checkpoints")}
    env.update({f"SM_CHANNEL_{c.upper()}": str(root / "input" / "data" / c) for c in channels})
    return env


SPEC = TrainingJobSpec(stage="rlvr", species="zombie", tier="bronze", base_model="/host/base_models/bronze",
                       dataset="/host/srl_dataset/zombie.json", output_dir="/host/.zombie.tmp-1",
                       checkpoint_dir="/host/checkpoints/x", initial_adapter="/host/srl_adapter/zombie")


def test_the_specs_paths_point_at_the_containers_copies(tmp_path):
    env = container_env(tmp_path, "spec", "dataset", "base_model", "initial_adapter")
    assert in_container(env) and not in_container({})
    assert default_spec_path(env) == tmp_path / "input" / "data" / "spec" / "job_spec.json"
    spec = resolve_for_container(SPEC, env)
    assert spec.dataset == str(tmp_path / "input" / "data" / "dataset" / "zombie.json")
    assert spec.base_model == str(tmp_path / "input" / "data" / "base_model")
    assert spec.initial_adapter == str(tmp_path / "input" / "data" / "initial_adapter")
    assert (spec.output_dir, spec.checkpoint_dir) == (env["SM_MODEL_DIR"], env["SRL_CHECKPOINT_DIR"])
    hub = resolve_for_container(TrainingJobSpec(**{**SPEC.to_dict(), "base_model": "Qwen/Qwen2.5-7B-Instruct",
                                                   "initial_adapter": None}), container_env(tmp_path, "dataset"))
    assert hub.base_model == "Qwen/Qwen2.5-7B-Instruct" and hub.initial_adapter is None   # loaded in the container


def test_a_missing_channel_is_a_clear_bad_spec(tmp_path, monkeypatch, capsys):
    spec_dir = tmp_path / "input" / "data" / "spec"
    SPEC.save(spec_dir / "job_spec.json")
    for k, v in container_env(tmp_path, "spec", "dataset").items():   # no initial_adapter channel
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    assert entrypoint.main([]) == entrypoint.EXIT_BAD_SPEC   # --spec defaults to the spec channel
    err = capsys.readouterr().err
    assert "no 'initial_adapter' channel" in err and "Traceback" not in err


def test_outside_a_container_the_spec_is_required(monkeypatch):
    monkeypatch.delenv("SM_CHANNEL_SPEC", raising=False)
    with pytest.raises(SystemExit) as exit_:
        entrypoint.main([])
    assert exit_.value.code == 2
