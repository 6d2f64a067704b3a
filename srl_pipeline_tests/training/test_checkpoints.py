"""Checkpoints: atomic (complete or invisible), newest K kept, and a resume that restores everything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: one thread is as fast, and immune to a busy machine's contention

from srl_pipeline.training.checkpoints import (  # noqa: E402
    COMPLETE_MARKER, CheckpointManager, CheckpointTriggerCallback,
)
from srl_pipeline_tests.tiny_models import PROMPTS, flat_or_varied, make_trainer  # noqa: E402


def _writer(payload: bytes = b"x" * 100):
    def write(d: Path) -> None:
        (d / "weights.bin").write_bytes(payload)
        (d / "sub").mkdir()
        (d / "sub" / "opt.bin").write_bytes(payload[:10])
    return write


def test_save_is_atomic_and_only_complete_checkpoints_are_seen(tmp_path):
    m = CheckpointManager(tmp_path, keep=3)
    p = m.save(2, _writer(), {"history": [1, 2]})
    assert p.name == "ckpt-2" and (p / COMPLETE_MARKER).is_file() and not (tmp_path / "ckpt-2.tmp").exists()
    assert m.latest().step == 2 and m.read_extra_state(m.latest()) == {"history": [1, 2]}
    marker = json.loads((p / COMPLETE_MARKER).read_text())
    assert marker["step"] == 2 and marker["files"]["weights.bin"] == 100 and "sub/opt.bin" in marker["files"]

    # Leftovers of a killed save: a .tmp dir, a renamed dir without marker, a truncated file.
    (tmp_path / "ckpt-9.tmp").mkdir()
    (tmp_path / "ckpt-9.tmp" / "weights.bin").write_bytes(b"half")
    (tmp_path / "ckpt-7").mkdir()
    (tmp_path / "ckpt-7" / "weights.bin").write_bytes(b"x" * 100)
    m.save(5, _writer())
    (tmp_path / "ckpt-5" / "weights.bin").write_bytes(b"x" * 50)      # truncated after the marker
    assert [c.step for c in m.complete_checkpoints()] == [2]
    assert m.latest().step == 2
    removed = {p.name for p in m.cleanup_incomplete()}
    assert removed == {"ckpt-9.tmp", "ckpt-7", "ckpt-5"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-2"]


def test_a_crash_while_writing_leaves_no_complete_checkpoint(tmp_path):
    m = CheckpointManager(tmp_path, keep=2)
    m.save(1, _writer())

    def crashing(d: Path) -> None:
        (d / "weights.bin").write_bytes(b"partial")
        raise KeyboardInterrupt("killed mid-save")

    with pytest.raises(KeyboardInterrupt):
        m.save(2, crashing)
    assert m.latest().step == 1 and (tmp_path / "ckpt-2.tmp").exists() and not (tmp_path / "ckpt-2").exists()
    m.save(2, _writer())                                                 # a later save of the same step works
    assert m.latest().step == 2 and not (tmp_path / "ckpt-2.tmp").exists()


def test_keeps_the_newest_k(tmp_path):
    m = CheckpointManager(tmp_path, keep=2)
    for step in (1, 2, 3, 4):
        m.save(step, _writer())
    assert [c.step for c in m.complete_checkpoints()] == [3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-3", "ckpt-4"]
    with pytest.raises(ValueError):
        CheckpointManager(tmp_path, keep=0)


def test_time_and_step_triggers():
    from transformers import TrainerControl, TrainerState

    now = [0.0]
    cb = CheckpointTriggerCallback(every_steps=5, every_minutes=1.0, max_runtime_minutes=10.0, clock=lambda: now[0])
    state, control = TrainerState(), TrainerControl()
    state.max_steps = 100
    cb.on_train_begin(None, state, control)

    def step(n, t):
        now[0] = t
        state.global_step = n
        c = TrainerControl()
        cb.on_step_end(None, state, c)
        if c.should_save:
            cb.on_save(None, state, c)
        return c

    assert not step(1, 10).should_save
    assert step(5, 20).should_save                   # every 5 steps
    assert not step(6, 50).should_save
    assert step(7, 81).should_save                   # 60 s since the last save
    assert not step(8, 100).should_save
    c = step(9, 601)                                 # runtime limit: save and stop
    assert c.should_save and c.should_training_stop and cb.time_limit_hit
    state.global_step = 100
    assert step(100, 602).should_save                # the last step is always saved


def _adapter_params(trainer):
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_" in n}


def test_resume_restores_weights_optimizer_scheduler_rng_and_data_position(tiny_model_dir, tmp_path):
    """4 steps straight vs 2 steps, a fresh process-like restart from ckpt-2, then 2 more: identical."""
    from srl_pipeline.training.grpo.kl_control import AdaptiveKLController

    def trainer_for(run: str):
        mgr = CheckpointManager(tmp_path / run / "ckpt", keep=2)
        tr = make_trainer(tiny_model_dir, tmp_path / run, PROMPTS, flat_or_varied, max_steps=4,
                          checkpoint_manager=mgr, kl_controller=AdaptiveKLController(0.04, target=0.1),
                          hp={"lr_scheduler_type": "linear"})
        tr.add_callback(CheckpointTriggerCallback(every_steps=2))
        return tr, mgr

    straight, mgr_a = trainer_for("a")
    straight.train()
    assert [c.step for c in mgr_a.complete_checkpoints()] == [2, 4]
    final_a = _adapter_params(straight)
    assert any(v.abs().sum() > 0 for n, v in final_a.items() if "lora_B" in n)  # it did train

    # Simulate the kill: copy ckpt-2 into a fresh checkpoint dir and resume a brand-new trainer from it.
    import shutil

    resumed, mgr_b = trainer_for("b")
    shutil.copytree(mgr_a.root / "ckpt-2", mgr_b.root / "ckpt-2")
    latest = mgr_b.latest()
    assert latest.step == 2
    resumed.load_job_state(mgr_b.read_extra_state(latest))
    assert [h["step"] for h in resumed.history] == [1, 2]
    resumed.train(resume_from_checkpoint=str(latest.path))
    assert resumed.state.global_step == 4
    assert [h["step"] for h in resumed.history] == [1, 2, 3, 4]
    final_b = _adapter_params(resumed)
    assert final_a.keys() == final_b.keys() and final_a
    for name in final_a:
        torch.testing.assert_close(final_a[name], final_b[name], rtol=1e-5, atol=1e-6, msg=name)
    assert resumed.optimizer.state_dict()["state"].keys() == straight.optimizer.state_dict()["state"].keys()
    assert resumed.lr_scheduler.state_dict()["last_epoch"] == straight.lr_scheduler.state_dict()["last_epoch"]
    for a, b in zip(straight.history, resumed.history):
        assert a["reward_mean"] == pytest.approx(b["reward_mean"]) and a["kl"] == pytest.approx(b["kl"], abs=1e-7)
