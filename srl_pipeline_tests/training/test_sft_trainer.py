"""SFT baseline: the entrypoint runs an ``sft`` job (adapter, metrics, history, resume), the loss
falls on the training data, and the completions it trains on are valid SRL completions.

Uses the tiny random Qwen2 and the SRL dataset writer of ``srl_pipeline_tests/tiny_models.py`` (no downloads)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

pytest.importorskip("torch").set_num_threads(1)

from srl_pipeline.game.steps import parse_step  # noqa: E402
from srl_pipeline.training import entrypoint  # noqa: E402
from srl_pipeline.training.checkpoints import CheckpointManager  # noqa: E402
from srl_pipeline.training.rewards import srl_reward  # noqa: E402
from srl_pipeline.training.job_runner import Reporter  # noqa: E402
from srl_pipeline.training.sft_config import load_sft_config, resolve_sft_hyperparameters  # noqa: E402
from srl_pipeline.training.sft_trainer import run_sft, sft_completion, to_sft_dataset  # noqa: E402
from srl_pipeline.training.srl_trainer import load_srl_examples  # noqa: E402
from srl_pipeline_tests.tiny_models import tiny_spec, write_srl_dataset  # noqa: E402

METRIC_KEYS = (
    "stage", "species", "tier", "status", "global_step", "max_steps", "resumed_from", "validation_reward_base",
    "validation_reward_trained", "validation_examples", "train_examples", "loss_first", "loss_last",
    "train_seconds", "tokens_per_s_mean", "adapter_dir", "base_model", "hyperparameters", "history", "summary",
)


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sft_spec(tmp: Path, model_dir: Path, **overrides):
    return tiny_spec(tmp, model_dir, **{"stage": "sft", "hyperparameters": {"profile": "test"}, **overrides})


class _Recorder(Reporter):
    def __init__(self):
        self.steps, self.events = [], []

    def step(self, record):
        self.steps.append(record)

    def event(self, name, payload):
        self.events.append((name, payload))


def test_completions_end_with_the_expert_step_and_score_full_srl_reward(tmp_path):
    examples = load_srl_examples(write_srl_dataset(tmp_path / "d.json"))
    for e in examples:
        completion = sft_completion(e, "vampire")
        assert completion.startswith("\n<think>") and completion.endswith("</think>\n" + e["target"])
        assert srl_reward(completion, e["target"]) == 1.0
        think = completion.split("<think>", 1)[1].split("</think>", 1)[0]
        assert "vampire" in think and think.endswith(f"I will {parse_step(e['target']).action}.")
        menu = e["prompt"].rsplit("Moves now: ", 1)[1] if "Moves now: " in e["prompt"] else ""
        for option in think.split(" I can ", 1)[1].split(". I will ", 1)[0].split(", "):
            assert option == "nothing" or f"{option}(" in menu  # the warm-up's think: it reads the menu
    assert sft_completion(examples[0], "vampire") == sft_completion(examples[0], "vampire")  # deterministic
    ds = to_sft_dataset(examples[:2], chat=False, species="vampire")
    assert ds.column_names == ["prompt", "completion"] and ds[0]["prompt"] == examples[0]["prompt"]
    chat = to_sft_dataset(examples[:1], chat=True, species="vampire")[0]
    assert chat["completion"][0]["role"] == "assistant"
    assert srl_reward(chat["completion"][0]["content"], examples[0]["target"]) == 1.0


def test_profiles_and_unknown_hyperparameters():
    assert load_sft_config("aws")["learning_rate"] == 1.0e-5 and load_sft_config("aws")["bf16"] is True
    local = resolve_sft_hyperparameters({"profile": "local"})
    assert local.learning_rate == 1.0e-3 and local.lora_r == 16 and "down_proj" in local.lora_target_modules
    hp = resolve_sft_hyperparameters({"profile": "aws", "lora_r": 4})
    assert hp.lora_r == 4 and hp.gradient_checkpointing and hp.learning_rate == 1.0e-5
    with pytest.raises(ValueError, match="unknown SFT hyperparameter"):
        resolve_sft_hyperparameters({"profile": "test", "learnin_rate": 1.0})


def test_unknown_hyperparameter_fails_the_job(tiny_model_dir, tmp_path, capsys):
    spec = sft_spec(tmp_path, tiny_model_dir, hyperparameters={"profile": "test", "num_generations": 4})
    assert entrypoint.main(["--spec", str(spec.save(tmp_path / "spec.json"))]) == entrypoint.EXIT_FAILED
    assert "unknown SFT hyperparameter" in capsys.readouterr().err


def test_runs_an_sft_job_through_the_entrypoint_and_resumes_a_finished_one(tiny_model_dir, tmp_path, capsys):
    spec = sft_spec(tmp_path, tiny_model_dir, max_steps=3, checkpoint_every_steps=2)
    path = spec.save(tmp_path / "spec.json")
    assert entrypoint.main(["--spec", str(path)]) == entrypoint.EXIT_OK
    events = _events(capsys.readouterr().out)                  # stdout holds JSON lines only
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3] and all(e["max_steps"] == 3 for e in steps)
    for key in ("loss", "learning_rate", "tokens_per_s", "elapsed_s"):
        assert steps[0][key] is not None
    names = [e["event"] for e in events]
    assert "started" in names and "finished" in names
    assert events[-1]["event"] == "result" and events[-1]["metrics"]["status"] == "completed"

    out = Path(spec.output_dir)
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in METRIC_KEYS:
        assert key in metrics, key
    assert metrics["stage"] == "sft" and metrics["status"] == "completed" and metrics["global_step"] == 3
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3]
    assert all(math.isfinite(h["loss"]) for h in metrics["history"])
    assert metrics["train_examples"] == 12 and metrics["validation_examples"] == 2
    assert metrics["validation_reward_base"] is not None and -1.0 <= metrics["validation_reward_trained"] <= 1.0
    assert metrics["summary"]["status"] == "completed" and "history" not in metrics["summary"]
    assert [c.step for c in CheckpointManager(spec.checkpoint_dir).complete_checkpoints()] == [2, 3]

    # Rerunning a finished job resumes from its last checkpoint and trains nothing more.
    assert entrypoint.main(["--spec", str(path)]) == entrypoint.EXIT_OK
    again = _events(capsys.readouterr().out)
    assert not [e for e in again if e["event"] == "step"]
    assert [e["step"] for e in again if e["event"] == "resumed"] == [3]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 3 and metrics["resumed_from"] == [3]
    assert [h["step"] for h in metrics["history"]] == [1, 2, 3]


def test_loss_decreases_on_the_training_data(tiny_model_dir, tmp_path):
    spec = sft_spec(tmp_path, tiny_model_dir, max_steps=8, checkpoint_every_steps=8,
                    hyperparameters={"profile": "test", "learning_rate": 1.0e-2, "validation_examples": 1,
                                     "validation_max_new_tokens": 4})
    rec = _Recorder()
    metrics = run_sft(spec, rec)
    losses = [h["loss"] for h in metrics["history"]]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert [r["step"] for r in rec.steps] == list(range(1, 9))
    assert metrics["loss_last"] < metrics["loss_first"] - 0.3, losses
    assert sum(losses[-2:]) < sum(losses[:2])


def test_time_limit_writes_a_checkpoint_and_a_rerun_resumes_to_the_end(tiny_model_dir, tmp_path, capsys):
    spec = sft_spec(tmp_path, tiny_model_dir, max_steps=3, checkpoint_every_steps=5, max_runtime_minutes=0.0)
    assert entrypoint.main(["--spec", str(spec.save(tmp_path / "limited.json"))]) == entrypoint.EXIT_TIME_LIMIT
    assert "max_runtime_minutes" in capsys.readouterr().err
    assert [c.step for c in CheckpointManager(spec.checkpoint_dir).complete_checkpoints()] == [1]
    assert not (Path(spec.output_dir) / "metrics.json").exists()

    spec.max_runtime_minutes = None
    assert entrypoint.main(["--spec", str(spec.save(tmp_path / "spec.json"))]) == entrypoint.EXIT_OK
    events = _events(capsys.readouterr().out)
    assert [e["step"] for e in events if e["event"] == "resumed"] == [1]
    assert [e["step"] for e in events if e["event"] == "step"] == [2, 3]
    metrics = json.loads((Path(spec.output_dir) / "metrics.json").read_text())
    assert metrics["resumed_from"] == [1] and [h["step"] for h in metrics["history"]] == [1, 2, 3]
