"""SFT's config, beside its trainer (:mod:`.sft_trainer`): every knob of an SFT run.

Like :mod:`.srl_config`, a dataclass that builds TRL's ``SFTConfig`` (:meth:`SFTHyperparameters.trl_config`)
instead of subclassing it, so the YAML profile's keys are checked (a typo is an error) and stay
counted in examples per optimizer step. ``configs/training/sft.yaml`` holds the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .hyperparameters import CONFIG_DIR, Hyperparameters, load_profile_config, resolve
from .job_spec import TrainingJobSpec
from .srl_config import LORA_TARGETS

CONFIG_PATH = CONFIG_DIR / "sft.yaml"


@dataclass
class SFTHyperparameters(Hyperparameters):
    """Every knob of an SFT run; ``configs/training/sft.yaml`` holds the per-profile values."""

    label: ClassVar[str] = "SFT"

    learning_rate: float = 1e-3
    lr_scheduler_type: str = "constant"
    warmup_steps: float = 0.0             # a ratio of max_steps when < 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    batch_size: int = 8                   # examples per optimizer step
    micro_batch_size: int = 8             # examples per forward/backward pass and device
    max_length: int = 1024                # prompt + completion tokens (longer ones are cut at the end)
    loss_type: str = "nll"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    prompt_format: str = "auto"           # auto | text | chat (chat when the tokenizer has a template)
    bf16: bool = False
    gradient_checkpointing: bool = False
    validation_examples: int = 16
    validation_max_new_tokens: int = 64
    validation_batch_size: int = 8
    torch_threads: int | None = None      # None: torch's default (all cores)

    def validate(self) -> None:
        if self.prompt_format not in ("auto", "text", "chat"):
            raise ValueError("prompt_format must be auto, text or chat")
        if self.batch_size < 1 or self.micro_batch_size < 1:
            raise ValueError("batch_size and micro_batch_size must be >= 1")

    def trl_config(self, spec: TrainingJobSpec, world_size: int = 1):
        """TRL's ``SFTConfig`` for this job (saving is ours: ``save_strategy="no"``)."""
        import torch
        from trl import SFTConfig

        per_step = self.micro_batch_size * world_size
        if self.batch_size % per_step:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size*world_size "
                             f"({per_step})")
        return SFTConfig(
            output_dir=str(Path(spec.checkpoint_dir)),  # HF writes nothing else there (save_strategy="no")
            max_steps=spec.max_steps, seed=spec.seed, data_seed=spec.seed,
            learning_rate=self.learning_rate, lr_scheduler_type=self.lr_scheduler_type,
            warmup_steps=self.warmup_steps, weight_decay=self.weight_decay, max_grad_norm=self.max_grad_norm,
            per_device_train_batch_size=self.micro_batch_size, gradient_accumulation_steps=self.batch_size // per_step,
            max_length=self.max_length, completion_only_loss=True, loss_type=self.loss_type, packing=False,
            logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
            bf16=self.bf16, gradient_checkpointing=self.gradient_checkpointing,
            use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
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
