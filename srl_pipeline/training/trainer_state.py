"""What every stage's trainer keeps beside TRL's own state: status, per-step history, summary.

:class:`JobStateMixin` is mixed in front of a TRL trainer (``GRPOTrainer``, ``SFTTrainer``, the
distillation's ``GKDTrainer``). It gives the job runner (:mod:`.job_runner`) one interface for

- the **extra state** that goes into every checkpoint and comes back on resume (status, history,
  resumed-from steps, training seconds of earlier runs, plus the stage's own via
  :meth:`~JobStateMixin.extra_job_state`), saved through the atomic checkpoints of :mod:`.checkpoints`;
- one **history record** per optimizer step (step, timing, tokens/s, plus the stage's fields via
  :meth:`~JobStateMixin.step_record`), reported through ``on_step``;
- the stage's part of ``metrics.json`` (:meth:`~JobStateMixin.summary_metrics`).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, ClassVar

from .checkpoints import CheckpointManager, save_trainer_checkpoint
from .job_runner import STATUS_COMPLETED


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float when it is a finite number, else None (history records are JSON)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class JobStateMixin:
    """Checkpointed extra state, per-step history records and the summary; see the module docstring."""

    # Statuses a resumed run keeps (a finished job is not trained again); stages with their own
    # clean stops (the GRPO KL bound) extend it.
    terminal_statuses: ClassVar[tuple[str, ...]] = (STATUS_COMPLETED,)

    def __init__(self, *args: Any, checkpoint_manager: CheckpointManager | None = None,
                 on_step: Callable[[dict[str, Any]], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.checkpoint_manager = checkpoint_manager
        self.on_step = on_step
        self.status: str | None = None
        self.history: list[dict[str, Any]] = []
        self.resumed_from: list[int] = []
        self.elapsed_before = 0.0                # training seconds of earlier (killed) runs
        self._clock_start = self._last_record_time = time.perf_counter()
        self._last_record_tokens: int | None = None

    # ---- state that goes into checkpoints ------------------------------------------------------
    def job_state(self) -> dict[str, Any]:
        return {"status": self.status, "history": self.history, "resumed_from": self.resumed_from,
                "elapsed_s": self.elapsed_before + (time.perf_counter() - self._clock_start),
                **self.extra_job_state()}

    def load_job_state(self, state: dict[str, Any]) -> None:
        status = state.get("status")
        self.status = status if status in self.terminal_statuses else None
        self.history = list(state.get("history") or [])
        self.resumed_from = list(state.get("resumed_from") or [])
        self.elapsed_before = float(state.get("elapsed_s") or 0.0)
        self.load_extra_job_state(state)

    def extra_job_state(self) -> dict[str, Any]:
        """The stage's own checkpointed state (e.g. the KL controller)."""
        return {}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_job_state` saved."""

    def _save_checkpoint(self, model, trial):
        if self.checkpoint_manager is None:
            return super()._save_checkpoint(model, trial)
        save_trainer_checkpoint(self, self.checkpoint_manager, self.job_state())

    # ---- per-step history ------------------------------------------------------------------------
    def _tokens_seen(self) -> int:
        """Tokens processed so far (what tokens/s is computed from)."""
        return self.state.num_input_tokens_seen

    def _train_start_tokens(self) -> int | None:
        """Token count when train() starts; None: the Trainer's own count after a resume, read at
        the first record (``_initial_num_input_tokens_seen``)."""
        return None

    def train(self, *args: Any, **kwargs: Any):
        self._clock_start = self._last_record_time = time.perf_counter()
        self._last_record_tokens = self._train_start_tokens()
        return super().train(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        training = self.model.training and "loss" in logs
        super().log(logs, start_time)  # TRL merges its averaged metrics into `logs` in place
        if not training:
            return
        now = time.perf_counter()
        tokens = self._tokens_seen()
        if self._last_record_tokens is None:  # first step of this train() call (maybe a resumed one)
            self._last_record_tokens = getattr(self, "_initial_num_input_tokens_seen", 0)
        seconds = now - self._last_record_time
        d_tokens = tokens - self._last_record_tokens
        record = {
            "step": self.state.global_step,
            "loss": finite_or_none(logs.get("loss")),
            "learning_rate": finite_or_none(logs.get("learning_rate")),
            "grad_norm": finite_or_none(logs.get("grad_norm")),
            **self.step_record(logs, d_tokens),
            "tokens_per_s": finite_or_none(d_tokens / seconds if seconds > 0 else None),
            "seconds": round(seconds, 4),
            "elapsed_s": round(self.elapsed_before + now - self._clock_start, 3),
        }
        self._last_record_time, self._last_record_tokens = now, tokens
        self.history = [h for h in self.history if h["step"] < record["step"]] + [record]
        if self.on_step is not None:
            self.on_step(record)

    def step_record(self, logs: dict[str, float], tokens: int) -> dict[str, Any]:
        """The stage's fields of one step's history record (``tokens``: processed this step)."""
        return {}

    # ---- metrics.json --------------------------------------------------------------------------
    def summary_metrics(self, hp: Any) -> dict[str, Any]:
        """The stage's own keys of ``metrics.json`` (the runner adds the common ones)."""
        return {}
