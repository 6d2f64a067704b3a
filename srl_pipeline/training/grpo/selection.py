"""Checkpoint selection on the validation split: the adapter a GRPO stage ships is its best one.

On the tiny CPU tiers a greedy policy flips between modes while it learns: vampire's held-out
success read 15 %, 40 %, 0 % at SRL steps 20, 40 and 60 of one run (``EXPERIMENTS.md``), so the
adapter of the last step is a lottery. Every ``select_every`` steps (and at step 0, the starting
model: the base for SRL, the SRL adapter for RLVR) the stage scores the current model on the
*validation* split, never the test split: greedy whole-plan success first, then the share of
held-out steps whose call does what the expert's does (the simulator judges,
:func:`~..rewards.srl_effect.call_reward`) as the tie-break. The best scoring weights are kept
(in memory and, for a resumed job, in ``<checkpoint_dir>/selected.safetensors``) and loaded back
when training ends, so the adapter saved, scored and evaluated is the selected one. When no
checkpoint beats the starting model, the stage ships the starting model's weights, and its
metrics say so (``selection.best_step == 0``): an honest "did not improve".

The curve of these scores is the stage's learning curve (``metrics.json`` ``selection.curve``,
plotted on the adapter's asset). One process only (a torchrun job skips selection and says so).
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import torch
from transformers import TrainerCallback

from ..generation import merged_lora

__all__ = ["CheckpointSelection", "SelectionCallback", "SelectsCheckpoints", "validation_scorer"]

Score = tuple[float, float]   # (plan success, decision accuracy)
SELECTED_FILE = "selected.safetensors"


def validation_scorer(tasks: list[Any], examples: list[dict[str, Any]], ruleset: Any, *, max_new_tokens: int,
                      max_plan_steps: int, batch_size: int, chat: bool,
                      menu_constrained: bool = False) -> Callable[[Any, Any], Score]:
    """``score(model, tokenizer)``: greedy plan success on ``tasks`` and decision accuracy on ``examples``."""
    from ...evaluation.metrics import summarize_steps
    from ..generation import generate_steps
    from ..plan_rollout import rollout_plans

    def score(model: Any, tokenizer: Any) -> Score:
        success = 0.0
        if tasks:
            plays = rollout_plans(model, tokenizer, tasks, ruleset, max_new_tokens=max_new_tokens,
                                  max_steps=max_plan_steps, batch_size=batch_size, chat=chat,
                                  menu_constrained=menu_constrained)
            success = sum(p.success for p in plays) / len(plays)
        accuracy = 0.0
        if examples:
            outs = generate_steps(model, tokenizer, [e["prompt"] for e in examples], max_new_tokens=max_new_tokens,
                                  batch_size=batch_size, chat=chat, menu_constrained=menu_constrained)
            steps = summarize_steps([t for t, _ in outs], [e["target"] for e in examples],
                                    [e["prompt"] for e in examples], ruleset)
            accuracy = steps["decision_accuracy"] or 0.0
        return round(success, 6), round(accuracy, 6)

    return score


@contextmanager
def _playing(model: Any) -> Iterator[None]:
    with torch.no_grad(), merged_lora(model):
        yield


class CheckpointSelection:
    """The best validation score so far, its step and weights, and the curve of every score."""

    def __init__(self, every: int, score: Callable[[Any, Any], Score], directory: str | Path):
        self.every = int(every)
        self.score = score
        self.path = Path(directory) / SELECTED_FILE
        self.curve: list[dict[str, Any]] = []
        self.best_step: int | None = None
        self.best_score: Score | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None

    @staticmethod
    def _trainable(model: Any) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}

    def consider(self, step: int, model: Any, tokenizer: Any,
                 playing: Callable[[], ContextManager[Any]] = nullcontext) -> None:
        """Score ``model`` inside ``playing()`` (e.g. its LoRA merged for the plays), then keep its
        trainable weights, outside it, when the score is the best so far."""
        with playing():
            success, accuracy = self.score(model, tokenizer)
        self.curve.append({"step": int(step), "validation_success": success, "decision_accuracy": accuracy})
        if self.best_score is None or (success, accuracy) > self.best_score:
            self.best_step, self.best_score = int(step), (success, accuracy)
            self._best_weights = self._trainable(model)
            self._write()

    def _write(self) -> None:
        from safetensors.torch import save_file

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        save_file(self._best_weights, str(tmp))
        os.replace(tmp, self.path)

    def restore(self, model: Any) -> None:
        """Load the selected weights into ``model`` (nothing when none was selected)."""
        if self._best_weights is None and self.best_step is not None and self.path.exists():
            from safetensors.torch import load_file

            self._best_weights = load_file(str(self.path))
        if self._best_weights is None:
            return
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self._best_weights.items():
                params[name].copy_(value.to(params[name].device))

    def state(self) -> dict[str, Any]:
        return {"curve": self.curve, "best_step": self.best_step,
                "best_score": list(self.best_score) if self.best_score else None}

    def load_state(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.curve = list(state.get("curve") or [])
        self.best_step = state.get("best_step")
        self.best_score = tuple(state["best_score"]) if state.get("best_score") else None
        self._best_weights = None   # read back from self.path when restored

    def summary(self) -> dict[str, Any]:
        best = self.best_score or (None, None)
        return {"every": self.every, "best_step": self.best_step, "best_validation_success": best[0],
                "best_decision_accuracy": best[1], "curve": self.curve}


class SelectionCallback(TrainerCallback):
    """Scores the starting model, then every ``every`` steps and the last; restores the best at the end."""

    def __init__(self, trainer: Any, selection: CheckpointSelection):
        self.trainer = trainer
        self.selection = selection

    def _model(self):
        return self.trainer.accelerator.unwrap_model(self.trainer.model)

    def _consider(self, step: int) -> None:
        model = self._model()
        self.selection.consider(step, model, self.trainer.processing_class,
                                playing=lambda: _playing(model))   # the plays decode with the LoRA folded in

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.selection.curve:
            self._consider(state.global_step)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step % self.selection.every == 0 or step >= state.max_steps or control.should_training_stop:
            if not any(p["step"] == step for p in self.selection.curve):
                self._consider(step)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.selection.restore(self._model())
        return control


class SelectsCheckpoints:
    """Mixed in front of :class:`~..trainer_state.JobStateMixin` by every stage's trainer (GRPO, SFT,
    distillation): takes ``selection=`` (kept on one process only: the plays run on rank 0's model),
    checkpoints its state with the job's and gives its summary for ``metrics.json``.

    The callback is attached when training starts, after every callback the trainer added in its
    ``__init__``: it must see their stop decisions (the KL bound) to score the last step."""

    def __init__(self, *args: Any, selection: CheckpointSelection | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.selection = selection if selection is not None and self.accelerator.num_processes == 1 else None

    def train(self, *args: Any, **kwargs: Any) -> Any:
        if self.selection is not None and not any(isinstance(c, SelectionCallback)
                                                  for c in self.callback_handler.callbacks):
            self.add_callback(SelectionCallback(self, self.selection))
        return super().train(*args, **kwargs)

    def extra_job_state(self) -> dict[str, Any]:
        return {**super().extra_job_state(), "selection": self.selection.state() if self.selection else None}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        super().load_extra_job_state(state)
        if self.selection is not None:
            self.selection.load_state(state.get("selection"))

    def selection_summary(self) -> dict[str, Any] | None:
        return self.selection.summary() if self.selection is not None else None
