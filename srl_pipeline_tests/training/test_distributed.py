"""One process or ``torchrun --nproc_per_node 2`` (CPU, gloo): the same data, seed, steps and global
batch give the same adapter, and only rank 0 writes the outputs and reports.

The multi-process cases start real ``torchrun`` subprocesses (marked ``multiprocess``; ~80 s on 2
cores for the module: a formatted tiny model, then 8 short jobs of 3-4 steps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.training.checkpoints import CheckpointManager, CheckpointTriggerCallback  # noqa: E402
from srl_pipeline.training.grpo.trainer import group_seed  # noqa: E402
from srl_pipeline_tests.tiny_models import (adapter_tensors, build_formatted_tiny_model, run_entrypoint,  # noqa: E402
                                            tiny_spec)

ATOL = 1e-5
# One SRL process runs each group's prompt once in the log-prob passes (grpo/trainer.py); torchrun's
# ranks take TRL's full path: the same computation in another float order (measured: 2.5e-5).
ATOL_SRL = 1e-4


@pytest.fixture(scope="module")
def formatted_model_dir(tmp_path_factory) -> Path:
    """A tiny model whose samples are often well-formed (varied SRL rewards: GRPO has something to learn)."""
    return build_formatted_tiny_model(tmp_path_factory.mktemp("formatted") / "model")


def _hp(stage: str) -> dict:
    if stage == "sft":  # 4 examples per step: 2 micro-batches of 2 in one process, 1 of 2 per rank in two
        return {"profile": "test", "batch_size": 4, "micro_batch_size": 2, "validation_examples": 1,
                "validation_max_new_tokens": 4, "torch_threads": 1}
    # 2 prompts x 4 completions per step: micro-batches of 4; no dynamic sampling (its replacement
    # draws are per process) and no replay (each process keeps the wins it sampled; the tiny dataset
    # has no rules to judge them by either), the paper reward (varied on the formatted model's steps)
    return {"profile": "test", "micro_batch_size": 4, "dynamic_sampling": False, "replay_wins": 0,
            "max_completion_length": 40, "reward": "paper", "validation_examples": 1, "validation_max_new_tokens": 4,
            "torch_threads": 1}


def _run(tmp: Path, model: Path, stage: str, processes: int, seed: int = 0, max_steps: int = 3, exit_code: int = 0,
         max_runtime_minutes: float | None = None, **hp: object) -> tuple[Path, list[dict]]:
    """Run one job through the entrypoint; its folder and its stdout events."""
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tiny_spec(tmp, model, stage=stage, seed=seed, max_steps=max_steps, checkpoint_every_steps=2,
                     max_runtime_minutes=max_runtime_minutes, hyperparameters={**_hp(stage), **hp})
    proc = run_entrypoint(spec.save(tmp / "spec.json"), processes, timeout=180)
    assert proc.returncode == exit_code, proc.stderr[-4000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]  # JSON lines only
    return tmp, events


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.multiprocess
@pytest.mark.parametrize("stage", ["sft", "srl"])
def test_two_processes_train_the_same_adapter_as_one(stage, formatted_model_dir, tmp_path):
    one, _ = _run(tmp_path / "one", formatted_model_dir, stage, 1)
    two, events = _run(tmp_path / "two", formatted_model_dir, stage, 2)
    a, b = adapter_tensors(one / "out"), adapter_tensors(two / "out")
    assert all(float(v.abs().max()) > 1e-4 for k, v in a.items() if "lora_B" in k)   # trained (B starts at 0)
    assert _max_diff(a, b) <= (ATOL_SRL if stage == "srl" else ATOL)

    # One voice and one set of outputs: rank 0's.
    assert [e["event"] for e in events].count("started") == 1 and [e["event"] for e in events].count("result") == 1
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]
    metrics = json.loads((two / "out" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["status"] == "completed" and metrics["global_step"] == 3
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("metrics.json")) == ["out/metrics.json"]
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("adapter_model.safetensors")) == [
        "ckpt/ckpt-2/adapter_model.safetensors", "ckpt/ckpt-3/adapter_model.safetensors",
        "out/adapter_model.safetensors"]
    ckpt = CheckpointManager(two / "ckpt").latest()
    assert ckpt.step == 3 and {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in ckpt.path.iterdir()}
    one_metrics = json.loads((one / "out" / "metrics.json").read_text())
    if stage == "srl":  # the same completions were sampled: the same rewards, step by step
        assert [h["reward_mean"] for h in metrics["history"]] == pytest.approx(
            [h["reward_mean"] for h in one_metrics["history"]], abs=1e-6)
        # The comparison can fail: another seed samples (and initialises) differently.
        other, _ = _run(tmp_path / "seed1", formatted_model_dir, stage, 1, seed=1)
        assert _max_diff(a, adapter_tensors(other / "out")) > 10 * ATOL_SRL
    else:  # the time limit stops both ranks after step 1 (exit 4, checkpoint); rerun: resume, same adapter
        cut = tmp_path / "cut"
        # torchrun exits 1 for any failed worker; rank 0 exited EXIT_TIME_LIMIT and said why
        _, stopped = _run(cut, formatted_model_dir, stage, 2, exit_code=1, max_runtime_minutes=0.0)
        assert [e["step"] for e in stopped if e["event"] == "step"] == [1]
        assert stopped[-1]["event"] == "error" and "max_runtime_minutes=0.0 reached at step 1/3" in stopped[-1]["message"]
        assert [c.step for c in CheckpointManager(cut / "ckpt").complete_checkpoints()] == [1]
        assert not (cut / "out" / "metrics.json").exists()
        _, resumed = _run(cut, formatted_model_dir, stage, 2)
        assert [e["step"] for e in resumed if e["event"] == "resumed"] == [1]
        assert [e["step"] for e in resumed if e["event"] == "step"] == [2, 3]
        assert _max_diff(b, adapter_tensors(cut / "out")) <= ATOL


@pytest.mark.multiprocess
def test_dynamic_sampling_in_two_processes_finishes(formatted_model_dir, tmp_path):
    """Flat groups are dropped and redrawn per process, so one rank may keep its batch as it is
    while another assembles a new one: both must still run the same collectives (this hung)."""
    # near-greedy sampling: a group's completions mostly agree, so flat groups are certain, whatever the seeds draw
    two, _ = _run(tmp_path, formatted_model_dir, "srl", 2, max_steps=4, dynamic_sampling=True, temperature=0.05)
    metrics = json.loads((two / "out" / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["global_step"] == 4
    assert metrics["dynamic_sampling"] and metrics["filter_rate"] > 0      # groups were dropped and redrawn


def test_distillation_refuses_several_processes_by_name(tiny_model_dir, tmp_path, monkeypatch):
    from srl_pipeline.training.distill_trainer import run_distill
    from srl_pipeline.training.job_runner import MultiProcessUnsupported
    from srl_pipeline_tests.training.test_distill_trainer import _spec as distill_spec

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(MultiProcessUnsupported, match="the distill stage cannot train in several processes"):
        run_distill(distill_spec(tmp_path, tiny_model_dir, traces=1))


def test_clock_decisions_are_rank_zeros():
    """A rank whose own clock says "time is up" follows rank 0's "not yet" (and vice versa), so
    every rank saves and stops at the same step."""
    from transformers import TrainerControl, TrainerState

    ticks = iter([0.0, 0.0, 10_000.0])
    asked = []

    def rank0(flags):
        asked.append(flags)
        return [False, False]

    cb = CheckpointTriggerCallback(every_steps=5, every_minutes=1, max_runtime_minutes=1, clock=lambda: next(ticks),
                                   agree=rank0)
    cb.on_train_begin(None, None, None)
    state, control = TrainerState(global_step=1, max_steps=10), TrainerControl()
    cb.on_step_end(None, state, control)
    assert asked == [[True, True]] and not control.should_training_stop and not control.should_save


def test_group_seeds_are_stable_and_distinct():
    assert group_seed(0, 3, 0, 1, [5, 6]) == group_seed(0, 3, 0, 1, [5, 6])
    seeds = {group_seed(0, 3, 0, 1, [5, 6]), group_seed(1, 3, 0, 1, [5, 6]), group_seed(0, 4, 0, 1, [5, 6]),
             group_seed(0, 3, 1, 1, [5, 6]), group_seed(0, 3, 0, 2, [5, 6]), group_seed(0, 3, 0, 1, [5, 7])}
    assert len(seeds) == 6 and all(0 <= s < 2 ** 63 for s in seeds)
