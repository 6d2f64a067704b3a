"""Distillation's config, beside its trainer (:mod:`.distill_trainer`): every knob of a
Bronze -> Silver or Silver -> Gold run.

Like :mod:`.sft_config`, a dataclass that builds TRL's ``GKDConfig`` (the generalized knowledge
distillation trainer this stage subclasses) instead of subclassing it, so the YAML profile's keys
are checked. ``configs/training/distill.yaml`` holds the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.turn_budget import TURN_TOKENS
from .hyperparameters import CONFIG_DIR, StageHyperparameters, resolve
from .job_spec import TrainingJobSpec

CONFIG_PATH = CONFIG_DIR / "distill.yaml"


@dataclass
class DistillHyperparameters(StageHyperparameters):
    """The warm start (supervised steps on the teacher's traces) and the on-policy phase (the
    student samples a turn, the teacher scores every token: GKD's generalized JSD, ``beta`` 1 = the
    per-token reverse KL of on-policy distillation)."""

    label: ClassVar[str] = "distillation"

    learning_rate: float = 1e-3
    batch_size: int = 8                   # turns per optimizer step (one micro-batch)
    sft_steps: int = 8                    # warm-start steps on the traces (skipped when there are none)
    beta: float = 1.0                     # 1: reverse KL(student || teacher); 0: forward KL; between: JSD
    temperature: float = 1.0              # sampling temperature of the student's on-policy turns
    max_completion_length: int = TURN_TOKENS   # tokens per sampled turn (think + step line: up to 100)
    max_length: int = 1024                # prompt + completion tokens
    validation_examples: int = 8          # validation turns scored before/after (SRL reward, KL to teacher)
    menu_constrained: bool = False        # the student's sampled action calls stay on the menu (menu_constraint.py)

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError("beta must be in [0, 1] (1 = reverse KL)")
        if self.batch_size < 1 or self.sft_steps < 0 or self.max_completion_length < 1:
            raise ValueError("batch_size and max_completion_length must be >= 1, sft_steps >= 0")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")

    def trl_config(self, spec: TrainingJobSpec, world_size: int = 1):
        """TRL's ``GKDConfig`` for this job (saving is ours: ``save_strategy="no"``; ``lmbda`` 1:
        every distillation step is on-policy)."""
        from trl.experimental.gkd import GKDConfig

        return GKDConfig(
            **self.trainer_arguments(spec, per_device=self.batch_size, accumulation=1),
            max_length=self.max_length, lmbda=1.0, beta=self.beta, temperature=self.temperature,
            max_new_tokens=self.max_completion_length, disable_dropout=True,
        )


def resolve_distill_hyperparameters(spec_hp: dict[str, Any]) -> DistillHyperparameters:
    """The job spec's ``{profile: <name>, ...overrides}`` over ``configs/training/distill.yaml``."""
    return resolve(spec_hp, DistillHyperparameters, CONFIG_PATH)
