"""SFT's config, beside its trainer (:mod:`.sft_trainer`): every knob of an SFT run.

Like :mod:`.srl_config`, a dataclass that builds TRL's ``SFTConfig`` (:meth:`SFTHyperparameters.trl_config`)
instead of subclassing it, so the YAML profile's keys are checked (a typo is an error) and stay
counted in examples per optimizer step. ``configs/training/sft.yaml`` holds the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .hyperparameters import CONFIG_DIR, StageHyperparameters, load_profile_config, resolve
from .job_spec import TrainingJobSpec

CONFIG_PATH = CONFIG_DIR / "sft.yaml"


@dataclass
class SFTHyperparameters(StageHyperparameters):
    """Every knob of an SFT run; ``configs/training/sft.yaml`` holds the per-profile values."""

    label: ClassVar[str] = "SFT"

    learning_rate: float = 1e-3
    batch_size: int = 8                   # examples per optimizer step
    max_length: int = 1024                # prompt + completion tokens (longer ones are cut at the end)
    loss_type: str = "nll"

    def validate(self) -> None:
        super().validate()
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")

    def trl_config(self, spec: TrainingJobSpec, world_size: int = 1):
        """TRL's ``SFTConfig`` for this job (saving is ours: ``save_strategy="no"``)."""
        from trl import SFTConfig

        per_step = self.micro_batch_size * world_size
        if self.batch_size % per_step:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size*world_size "
                             f"({per_step})")
        return SFTConfig(
            **self.trainer_arguments(spec, per_device=self.micro_batch_size, accumulation=self.batch_size // per_step),
            max_length=self.max_length, completion_only_loss=True, loss_type=self.loss_type, packing=False,
        )


def build_sft_config(spec: TrainingJobSpec, hp: SFTHyperparameters, world_size: int = 1):
    """TRL's ``SFTConfig`` for ``spec`` under ``hp``."""
    return hp.trl_config(spec, world_size)


def load_sft_config(profile: str = "local", path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The resolved values of a profile of ``configs/training/sft.yaml``."""
    return load_profile_config(profile, path)


def resolve_sft_hyperparameters(spec_hp: dict[str, Any]) -> SFTHyperparameters:
    """The job spec's ``{profile: <name>, ...overrides}`` over ``configs/training/sft.yaml``."""
    return resolve(spec_hp, SFTHyperparameters, CONFIG_PATH)
