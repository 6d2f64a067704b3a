"""The pure pieces of the training layer: the hyperparameter loader, the job identity, the KL window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srl_pipeline.training.grpo.kl_control import window_max
from srl_pipeline.core.profiles import (
    TRAINING_CONFIG_DIR as CONFIG_DIR, HyperparameterError, load_profile_config, load_stage_hyperparameters,
)
from srl_pipeline.training.hyperparameters import resolve
from srl_pipeline.training.job_identity import adapter_fingerprint, checkpoint_key
from srl_pipeline.training.rlvr_config import RLVRHyperparameters
from srl_pipeline.training.srl_config import SRLHyperparameters


# ------------------------------------------------------------------------------------------------
# The one loader
# ------------------------------------------------------------------------------------------------
def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_follows_profiles_of_this_and_of_another_stage_file(tmp_path):
    _write(tmp_path / "srl.yaml", "local: {learning_rate: 0.5, lora_r: 8}\naws: {extends: local, lora_r: 64}\n")
    rlvr = _write(tmp_path / "rlvr.yaml", "local: {extends: srl.aws, learning_rate: 0.25}\ntest: {extends: local}\n")
    assert load_profile_config("test", rlvr) == {"learning_rate": 0.25, "lora_r": 64}


def test_unknown_profile_stage_key_and_cycles_name_the_file(tmp_path):
    srl = _write(tmp_path / "srl.yaml", "local: {learning_rate: 0.5, lernin_rate: 1}\n"
                                        "a: {extends: b}\nb: {extends: a}\nc: {extends: nostage.local}\n")
    with pytest.raises(HyperparameterError, match=r"srl\.yaml: no profile 'aws'"):
        load_profile_config("aws", srl)
    with pytest.raises(HyperparameterError, match="cycle"):
        load_profile_config("a", srl)
    with pytest.raises(HyperparameterError, match=r"no hyperparameter file for stage 'nostage'.*nostage\.yaml"):
        load_profile_config("c", srl)
    with pytest.raises(HyperparameterError, match=r"unknown SRL hyperparameter\(s\) \['lernin_rate'\] in .*srl\.yaml"):
        resolve({"profile": "local"}, SRLHyperparameters, srl)
    with pytest.raises(HyperparameterError, match=r"\['lr'\] in the job spec"):
        resolve({"profile": "local", "lr": 1}, SRLHyperparameters, CONFIG_DIR / "srl.yaml")
    with pytest.raises(HyperparameterError, match="no hyperparameter file for stage 'distil'"):
        load_stage_hyperparameters("distil", "local")


def test_a_mapping_that_names_no_profile_is_an_error_not_local():
    with pytest.raises(HyperparameterError, match=r"name no 'profile'.*srl\.yaml"):
        resolve({"learning_rate": 1.0}, SRLHyperparameters, CONFIG_DIR / "srl.yaml")


# What RLVR sets on top of SRL's profile of the same name (rlvr.yaml); everything else is inherited.
RLVR_OWN = {"learning_rate", "batch_prompts", "micro_batch_size", "max_extra_generation_rounds", "stop_after_step",
            "max_plan_steps", "progress_credit", "validation_examples", "validation_tasks", "validation_batch_size",
            "max_completion_length", "validation_max_new_tokens", "select_every", "negative_advantages", "replay_wins",
            "replay_advantage", "search_samples", "search_temperature", "search_menu_constrained"}


def test_rlvr_profiles_extend_srl_and_keep_their_values():
    for profile in ("local", "aws", "test"):
        srl = load_profile_config(profile, CONFIG_DIR / "srl.yaml")
        rlvr = load_profile_config(profile, CONFIG_DIR / "rlvr.yaml")
        inherited = {k: v for k, v in rlvr.items() if k not in RLVR_OWN}
        assert inherited == {k: v for k, v in srl.items() if k not in RLVR_OWN}, profile
    local = load_profile_config("local", CONFIG_DIR / "rlvr.yaml")
    assert local["replay_wins"] > 0 and local["search_samples"] > 0 and local["negative_advantages"] is False
    assert local["learning_rate"] == 1e-3 and local["select_every"] == 5 and local["temperature"] == 1.0 and local["top_p"] == 0.9 and local["max_plan_steps"] == 8
    aws = load_profile_config("aws", CONFIG_DIR / "rlvr.yaml")
    assert (aws["learning_rate"], aws["batch_prompts"], aws["micro_batch_size"], aws["lora_r"]) == (5e-7, 64, 32, 64)


def test_what_a_spec_carries_resolves_to_the_same_values():
    carried = load_stage_hyperparameters("rlvr", "test")
    assert carried["profile"] == "test" and "extends" not in carried
    assert resolve(carried, RLVRHyperparameters, CONFIG_DIR / "rlvr.yaml") == \
        resolve({"profile": "test"}, RLVRHyperparameters, CONFIG_DIR / "rlvr.yaml")


# ------------------------------------------------------------------------------------------------
# Job identity
# ------------------------------------------------------------------------------------------------
def test_checkpoint_key_changes_with_every_part_of_the_job_and_only_then(tmp_path):
    data = _write(tmp_path / "d.json", json.dumps({"examples": []}))
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"weights")
    hp = {"profile": "local", "learning_rate": 0.1}
    key = checkpoint_key(data, str(base), hp, 10, 0)
    assert len(key) == 16 and key == checkpoint_key(data, str(base), dict(hp), 10, 0)
    assert key != checkpoint_key(data, str(base), {**hp, "learning_rate": 0.2}, 10, 0)
    assert key != checkpoint_key(data, str(base), hp, 11, 0)
    assert key != checkpoint_key(data, str(base), hp, 10, 1)
    (base / "model.safetensors").write_bytes(b"other weights")
    assert key != checkpoint_key(data, str(base), hp, 10, 0)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"a")
    with_adapter = checkpoint_key(data, str(base), hp, 10, 0, str(adapter))
    (adapter / "adapter_model.safetensors").write_bytes(b"b")
    assert with_adapter != checkpoint_key(data, str(base), hp, 10, 0, str(adapter))
    assert adapter_fingerprint(None) is None and adapter_fingerprint(str(tmp_path / "none")) == str(tmp_path / "none")


def test_kl_window_max():
    assert window_max([0.05, 0.05, 0.58, 0.05], 3) == pytest.approx(0.68 / 3)
    assert window_max([0.3], 3) == 0.3 and window_max([], 3) is None
