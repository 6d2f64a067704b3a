"""The training entrypoint: one CLI, JSON-lines or Dagster Pipes progress, clear failures, and a
SIGKILL mid-run followed by a restart that resumes from the newest complete checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

pytest.importorskip("torch").set_num_threads(1)

from srl_pipeline.training import entrypoint  # noqa: E402
from srl_pipeline.training.checkpoints import COMPLETE_MARKER, CheckpointManager  # noqa: E402
from srl_pipeline_tests.tiny_models import tiny_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_runs_an_srl_job_with_json_lines_progress_and_writes_adapter_and_metrics(tiny_model_dir, tmp_path, capsys):
    spec = tiny_spec(tmp_path, tiny_model_dir, max_steps=3, checkpoint_every_steps=2)
    path = spec.save(tmp_path / "spec.json")
    assert entrypoint.main(["--spec", str(path)]) == entrypoint.EXIT_OK
    events = _events(capsys.readouterr().out)                  # stdout holds JSON lines only
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3] and all(e["max_steps"] == 3 for e in steps)
    for key in ("reward_mean", "kl", "beta", "tokens_per_s", "filter_rate", "extra_generations"):
        assert key in steps[0]
    assert events[-1]["event"] == "result" and events[-1]["metrics"]["status"] == "completed"

    out = Path(spec.output_dir)
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 3 and [h["step"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["validation_reward_base"] is not None and metrics["validation_reward_trained"] is not None
    assert -1.0 <= metrics["validation_reward_trained"] <= 1.0
    assert metrics["summary"]["status"] == "completed" and "history" not in metrics["summary"]
    for key in ("filter_rate", "extra_generations", "generations_per_kept_group", "kl_last", "beta_final"):
        assert key in metrics
    assert [c.step for c in CheckpointManager(spec.checkpoint_dir).complete_checkpoints()] == [2, 3]

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out))
    assert {"q_proj", "down_proj"} <= set(model.peft_config["default"].target_modules)

    # Rerunning a finished job resumes from its last checkpoint and trains nothing more: the adapter
    # it writes is the checkpoint's (shifted here by +0.5 so that loading it is visible).
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    ckpt_file = Path(spec.checkpoint_dir) / "ckpt-3" / "adapter_model.safetensors"
    size = ckpt_file.stat().st_size
    with safe_open(str(ckpt_file), "pt") as fh:
        meta = fh.metadata()
    save_file({k: v + 0.5 for k, v in load_file(ckpt_file).items()}, str(ckpt_file), metadata=meta)
    assert ckpt_file.stat().st_size == size                       # still matches its COMPLETE manifest
    adapter_bytes = ckpt_file.read_bytes()
    assert entrypoint.main(["--spec", str(path)]) == entrypoint.EXIT_OK
    again = _events(capsys.readouterr().out)
    assert not [e for e in again if e["event"] == "step"]
    assert [e["step"] for e in again if e["event"] == "resumed"] == [3]
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 3
    assert (out / "adapter_model.safetensors").read_bytes() == adapter_bytes


class _FakePipes:
    """Records what the entrypoint sends through a Dagster Pipes context."""

    def __init__(self):
        self.lines, self.messages, self.materializations, self.extras = [], [], [], {}
        fake = self

        class _Log:
            def info(self, msg):
                fake.lines.append(("info", msg))

            def debug(self, msg):
                fake.lines.append(("debug", msg))

            def error(self, msg):
                fake.lines.append(("error", msg))

        self.log = _Log()

    def report_custom_message(self, payload):
        json.dumps(payload)                                      # must be JSON-serialisable
        self.messages.append(payload)

    def report_asset_materialization(self, metadata=None, data_version=None, asset_key=None):
        json.dumps(metadata)
        self.materializations.append(metadata)


def test_pipes_reporting_streams_steps_and_reports_the_materialization(tiny_model_dir, tmp_path):
    spec = tiny_spec(tmp_path, tiny_model_dir, max_steps=2)
    pipes = _FakePipes()
    assert entrypoint._main(spec.save(tmp_path / "spec.json"), entrypoint.PipesReporter(pipes)) == 0
    step_msgs = [m for m in pipes.messages if m["event"] == "step"]
    assert [m["step"] for m in step_msgs] == [1, 2]
    assert any(msg.startswith("step 2/2 ") and "reward=" in msg and "kl=" in msg and "tokens/s=" in msg for _, msg in pipes.lines)
    (meta,) = pipes.materializations
    assert meta["status"] == "completed" and meta["global_step"] == 2
    assert "validation_reward_base" in meta and "validation_reward_trained" in meta


def test_the_console_gets_milestone_steps_and_the_run_every_step():
    pipes = _FakePipes()
    reporter = entrypoint.PipesReporter(pipes)
    for step in range(1, 24):
        reporter.step({"step": step, "max_steps": 23, "loss": 0.5})
    info = [msg.split()[1] for level, msg in pipes.lines if level == "info"]
    assert info == ["1/23", "10/23", "20/23", "23/23"]
    assert len([m for m in pipes.messages if m["event"] == "step"]) == 23   # every step still reported
    assert sum(level == "debug" for level, _ in pipes.lines) == 19


def test_failures_exit_non_zero_with_a_clear_message(tiny_model_dir, tmp_path, capsys):
    spec = tiny_spec(tmp_path, tiny_model_dir, stage="distill", teacher_base_model=str(tiny_model_dir))
    assert entrypoint.main(["--spec", str(spec.save(tmp_path / "distill.json"))]) == entrypoint.EXIT_FAILED
    captured = capsys.readouterr()   # an SRL dataset handed to a distillation job: named, no guessing
    assert "distill training of vampire/bronze failed" in captured.err and "field traces" in captured.err
    assert _events(captured.out)[-1]["event"] == "error"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**spec.to_dict(), "stage": "srl", "learning_rate": 1}))
    assert entrypoint.main(["--spec", str(bad)]) == entrypoint.EXIT_BAD_SPEC
    assert "unknown job spec field" in capsys.readouterr().err
    assert entrypoint.main(["--spec", str(tmp_path / "missing.json")]) == entrypoint.EXIT_BAD_SPEC

    nodata = tiny_spec(tmp_path, tiny_model_dir, dataset=str(tmp_path / "none.json"))
    (tmp_path / "none.json").write_text(json.dumps({"examples": []}))
    assert entrypoint.main(["--spec", str(nodata.save(tmp_path / "nodata.json"))]) == entrypoint.EXIT_FAILED
    assert "no training examples" in capsys.readouterr().err


def test_sigkill_mid_run_then_restart_resumes_from_the_newest_complete_checkpoint(tiny_model_dir, tmp_path):
    max_steps = 24
    spec = tiny_spec(tmp_path, tiny_model_dir, max_steps=max_steps, checkpoint_every_steps=2, keep_checkpoints=2,
                     hyperparameters={"profile": "test", "max_completion_length": 12, "validation_examples": 1,
                                      "validation_max_new_tokens": 4})
    path = spec.save(tmp_path / "spec.json")
    ckpt = Path(spec.checkpoint_dir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "srl_pipeline.training.entrypoint", "--spec", str(path)]

    log1 = (tmp_path / "run1.out").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log1, stderr=subprocess.STDOUT)
    mgr = CheckpointManager(ckpt, keep=2)
    deadline = time.monotonic() + 120
    # Wait for a first complete checkpoint, then kill at the next sign of a save in progress (a
    # .tmp dir), or shortly after if we never catch one.
    while mgr.latest() is None:
        assert proc.poll() is None, (tmp_path / "run1.out").read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    kill_by = time.monotonic() + 0.3
    while time.monotonic() < kill_by and not any(p.name.endswith(".tmp") for p in ckpt.iterdir()):
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    log1.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (Path(spec.output_dir) / "metrics.json").exists()   # it really died mid-run

    newest = mgr.latest().step
    assert 2 <= newest < max_steps
    # Plant what a kill mid-save can leave: a half-written .tmp and a renamed dir without marker,
    # both of a *later* step than the newest complete one. Neither may be loaded.
    junk_tmp = ckpt / f"ckpt-{newest + 2}.tmp"
    junk_tmp.mkdir(exist_ok=True)
    (junk_tmp / "adapter_model.safetensors").write_bytes(b"\0" * 10)
    junk_unmarked = ckpt / f"ckpt-{newest + 4}"
    junk_unmarked.mkdir()
    (junk_unmarked / "trainer_state.json").write_text("{")
    assert not (junk_unmarked / COMPLETE_MARKER).exists()

    run2 = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run2.returncode == 0, run2.stderr[-3000:]
    events = _events(run2.stdout)
    assert [e["step"] for e in events if e["event"] == "resumed"] == [newest]
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(newest + 1, max_steps + 1))
    metrics = json.loads((Path(spec.output_dir) / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["global_step"] == max_steps
    assert metrics["resumed_from"] == [newest]
    assert [h["step"] for h in metrics["history"]] == list(range(1, max_steps + 1))
    assert not junk_tmp.exists() and not junk_unmarked.exists()
    assert [c.step for c in mgr.complete_checkpoints()] == [max_steps - 2, max_steps]
    assert {p.name for p in ckpt.iterdir() if p.name.startswith("ckpt-")} == \
        {f"ckpt-{max_steps - 2}", f"ckpt-{max_steps}"}
