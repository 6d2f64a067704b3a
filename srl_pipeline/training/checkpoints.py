"""Spot-safe training checkpoints: atomic, complete-or-invisible, the newest K kept.

A checkpoint is a directory `ckpt-<step>` under the job's checkpoint directory. It is written as
`ckpt-<step>.tmp` (every file fsynced), renamed to `ckpt-<step>` (an atomic rename on one file
system) and only then marked complete: a `COMPLETE` file, itself written atomically, that lists
every file with its size. A reader loads only a `ckpt-<step>` directory whose `COMPLETE` marker
exists and whose files match it, so a process killed (SIGKILL, spot interruption, OOM) at any moment
leaves either a complete checkpoint or one that is ignored and cleaned up on the next start.

Deleting an old checkpoint first removes its marker (the directory becomes invisible at once) and
then the files, so a kill during rotation never leaves a half-deleted checkpoint that looks
complete.

What goes in (through `save_trainer_checkpoint`): the trainable weights (the PEFT adapter, as
safetensors), the optimiser, the LR scheduler, the RNG states (python, numpy, torch), the HF
`TrainerState` (global step, so the data position: the Trainer skips the batches already consumed on
resume) and a JSON blob of the caller's own state (KL controller, metric history, ...).

Several processes (``torchrun``): the Trainer's writers are collective-minded (each rank saves its
own RNG state; ZeRO-3 gathers the weights on every rank), so every rank calls them into the *same*
``.tmp`` directory, and only the main process (``is_main``) creates that directory, fsyncs,
renames, marks it complete and rotates; ``barrier`` separates the phases (see :meth:`CheckpointManager.save`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from transformers import TrainerCallback

from ..core.atomic import atomic_write_json

COMPLETE_MARKER = "COMPLETE"
EXTRA_STATE_NAME = "srl_state.json"
_NAME = re.compile(r"^ckpt-(\d+)$")
_TMP_SUFFIX = ".tmp"
_DELETING_SUFFIX = ".deleting"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> dict[str, int]:
    """fsync every file and directory under root; return {relative path: size}."""
    manifest: dict[str, int] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
            manifest[str(p.relative_to(root))] = p.stat().st_size
        _fsync_dir(Path(dirpath))
    return manifest


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    path: Path


class CheckpointManager:
    """Atomic checkpoint directories under `root`; keeps the newest `keep` complete ones.

    ``is_main``/``barrier``: one of several processes (see the module docstring); the defaults are
    a single process's."""

    def __init__(self, root: str | Path, keep: int = 2, *, is_main: bool = True,
                 barrier: Callable[[], None] = lambda: None):
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.root = Path(root)
        self.keep = keep
        self.is_main = is_main
        self.barrier = barrier

    # ---- reading -------------------------------------------------------------------------------
    @staticmethod
    def is_complete(path: Path) -> bool:
        """True only for a renamed checkpoint whose marker exists and whose files all match it."""
        if not _NAME.match(path.name) or not path.is_dir():
            return False
        marker = path / COMPLETE_MARKER
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            files = meta["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if int(meta.get("step", -1)) != int(_NAME.match(path.name).group(1)):
            return False
        for rel, size in files.items():
            p = path / rel
            try:
                if p.stat().st_size != size:
                    return False
            except OSError:
                return False
        return True

    def complete_checkpoints(self) -> list[CheckpointInfo]:
        """Complete checkpoints, oldest first."""
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.iterdir():
            m = _NAME.match(p.name)
            if m and self.is_complete(p):
                out.append(CheckpointInfo(int(m.group(1)), p))
        return sorted(out, key=lambda c: c.step)

    def latest(self) -> CheckpointInfo | None:
        ckpts = self.complete_checkpoints()
        return ckpts[-1] if ckpts else None

    def read_extra_state(self, ckpt: CheckpointInfo | Path) -> dict[str, Any]:
        path = ckpt.path if isinstance(ckpt, CheckpointInfo) else Path(ckpt)
        f = path / EXTRA_STATE_NAME
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}

    # ---- housekeeping --------------------------------------------------------------------------
    def cleanup_incomplete(self) -> list[Path]:
        """Remove leftovers of interrupted saves/deletes (`.tmp`, `.deleting`, unmarked dirs)."""
        removed = []
        if not self.root.is_dir():
            return removed
        for p in self.root.iterdir():
            if not p.is_dir():
                continue
            leftover = p.name.endswith(_TMP_SUFFIX) or p.name.endswith(_DELETING_SUFFIX)
            if leftover or (_NAME.match(p.name) and not self.is_complete(p)):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        if removed:
            _fsync_dir(self.root)
        return removed

    def _delete(self, path: Path) -> None:
        marker = path / COMPLETE_MARKER
        if marker.exists():
            marker.unlink()  # invisible from here on
            _fsync_dir(path)
        doomed = path.with_name(path.name + _DELETING_SUFFIX)
        os.replace(path, doomed)
        _fsync_dir(self.root)
        shutil.rmtree(doomed, ignore_errors=True)

    def rotate(self) -> None:
        ckpts = self.complete_checkpoints()
        for c in ckpts[: max(0, len(ckpts) - self.keep)]:
            self._delete(c.path)

    # ---- writing -------------------------------------------------------------------------------
    def save(self, step: int, write: Callable[[Path], None], extra_state: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint for `step`: `write(tmp_dir)` fills the directory; the rest is atomic.

        Every process calls this (and ``write``) at the same step; only the main one touches the
        directories, the others wait for it at the barriers and return the same path."""
        final = self.root / f"ckpt-{step}"
        tmp = self.root / f"ckpt-{step}{_TMP_SUFFIX}"
        if self.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
        self.barrier()       # the directory exists for every rank's writers
        write(tmp)
        self.barrier()       # every rank's files are in before the main process seals them
        if self.is_main:
            self._seal(step, tmp, final, extra_state)
        self.barrier()       # nobody reads or re-saves before the checkpoint is complete
        return final

    def _seal(self, step: int, tmp: Path, final: Path, extra_state: dict[str, Any] | None) -> None:
        """Main process: the extra state, fsync, rename, the COMPLETE marker, rotation."""
        if extra_state is not None:
            (tmp / EXTRA_STATE_NAME).write_text(json.dumps(extra_state, sort_keys=True), encoding="utf-8")
        manifest = _fsync_tree(tmp)
        if final.exists():  # e.g. an unmarked leftover of the same step, or a re-save after resume
            self._delete(final)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        atomic_write_json(final / COMPLETE_MARKER, {"step": step, "files": manifest, "written_at": time.time()})
        _fsync_dir(final)
        self.rotate()


def save_trainer_checkpoint(trainer: Any, manager: CheckpointManager,
                            extra_state: dict[str, Any] | None = None) -> Path:
    """Save an HF/TRL Trainer's full resumable state atomically (see module docstring).

    Uses the Trainer's own writers, so `trainer.train(resume_from_checkpoint=path)` restores it:
    weights (adapter), optimiser, scheduler, scaler, RNG and `trainer_state.json`.
    """
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.trainer_callback import ExportableState

    def write(tmp: Path) -> None:
        out = str(tmp)
        trainer.save_model(out, _internal_call=True)
        trainer._save_optimizer_and_scheduler(out)
        trainer._save_scaler(out)
        trainer._save_rng_state(out)
        if trainer.args.should_save:
            stateful = [c for c in trainer.callback_handler.callbacks + [trainer.control]
                        if isinstance(c, ExportableState)]
            for cb in stateful:
                name = cb.__class__.__name__
                if isinstance(trainer.state.stateful_callbacks.get(name), list):
                    trainer.state.stateful_callbacks[name].append(cb.state())
                else:
                    trainer.state.stateful_callbacks[name] = cb.state()
            trainer.state.save_to_json(os.path.join(out, TRAINER_STATE_NAME))

    return manager.save(trainer.state.global_step, write, extra_state)


class CheckpointTriggerCallback(TrainerCallback):
    """Asks the Trainer to save every `every_steps` steps, every `every_minutes` minutes, at the last
    step, and when training stops early; optionally stops cleanly once `max_runtime_minutes` is spent.

    The Trainer's own `save_strategy` must be "no"; the save itself goes through the trainer's
    `_save_checkpoint` (which `SRLTrainer` routes to `save_trainer_checkpoint`).

    Several processes: the two clock-based decisions (time limit spent, save interval elapsed)
    go through `agree` (rank 0's on every rank, :meth:`~.distributed.Processes.agree`), so all
    ranks stop and save at the same step; the step-based ones are the same everywhere already.
    """

    def __init__(self, every_steps: int, every_minutes: float = 30.0, max_runtime_minutes: float | None = None,
                 on_time_limit: Callable[[], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 agree: Callable[[list[bool]], list[bool]] | None = None):
        self.every_steps = max(1, int(every_steps))
        self.every_seconds = float(every_minutes) * 60.0
        self.max_runtime_seconds = None if max_runtime_minutes is None else float(max_runtime_minutes) * 60.0
        self.on_time_limit = on_time_limit
        self.clock = clock
        self.agree = agree
        self._started = clock()
        self._last_save = self._started
        self.time_limit_hit = False

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = self._last_save = self.clock()

    def on_step_end(self, args, state, control, **kwargs):
        now = self.clock()
        step = state.global_step
        out_of_time = self.max_runtime_seconds is not None and now - self._started >= self.max_runtime_seconds
        interval = now - self._last_save >= self.every_seconds
        if self.agree is not None:
            out_of_time, interval = self.agree([out_of_time, interval])
        if out_of_time and step < state.max_steps:
            self.time_limit_hit = True
            control.should_training_stop = True
            if self.on_time_limit is not None:
                self.on_time_limit()
        if (step % self.every_steps == 0 or interval
                or step >= state.max_steps or control.should_training_stop):
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self._last_save = self.clock()
