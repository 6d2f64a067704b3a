"""Hyperparameters of a training stage: a dataclass filled from ``configs/training/<stage>.yaml``
(read by the one loader, :func:`srl_pipeline.core.profiles.load_profile_config`).

File scheme (every stage file follows it):

- one top-level mapping per profile (``local``, ``aws``, ``test``, ...);
- a profile may start from another with ``extends: <profile>`` (same file) or
  ``extends: <stage>.<profile>`` (another stage's file in the same folder, e.g. RLVR's
  ``local: {extends: srl.local, ...}``); its own keys then override the inherited ones, so a
  profile lists only what differs. Chains are followed; a cycle is an error.

A job spec's ``hyperparameters`` is ``{profile: <name>, ...overrides}``. There is no implicit
profile: a mapping that names none is an error (the Dagster resource passes the resolved profile
*and* its name, so the spec records both). An unknown stage, profile or key is an error that names
the file and the key: a typo must never fall back to a default silently.

Each stage subclasses :class:`Hyperparameters` with its fields (a dataclass beside its trainer,
e.g. :mod:`.srl_config`), a ``label`` for messages and its own :meth:`~Hyperparameters.validate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ..core.profiles import PROFILE, TRAINING_CONFIG_DIR as CONFIG_DIR, HyperparameterError, load_profile_config, profile_names
from ..core.turn_budget import TURN_TOKENS


class Hyperparameters:
    """Mixin for the stages' hyperparameter dataclasses."""

    label: ClassVar[str] = "training"

    @classmethod
    def check_keys(cls, keys: Any, source: str) -> None:
        """Raise when ``keys`` holds a name that is not a field; ``source`` says where they came from."""
        known = {f.name for f in fields(cls)}
        unknown = set(keys) - known - {PROFILE}
        if unknown:
            raise HyperparameterError(f"unknown {cls.label} hyperparameter(s) {sorted(unknown)} in {source}; "
                                      f"known: {sorted(known)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the hyperparameters"):
        data = {k: v for k, v in dict(data).items() if k != PROFILE}
        cls.check_keys(data, source)
        hp = cls(**data)
        hp.validate()
        return hp

    def validate(self) -> None:
        """Raise ValueError on an inconsistent combination (stages override)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(spec_hp: dict[str, Any] | None, cls: type, path: Path):
    """The job spec's ``{profile: <name>, ...overrides}`` as a ``cls`` instance: the profile of
    ``path``, then the overrides. Unknown keys name the file (profile keys) or the spec (overrides)."""
    spec_hp = dict(spec_hp or {})
    if PROFILE not in spec_hp:
        raise HyperparameterError(
            f"the job's {cls.label} hyperparameters name no {PROFILE!r} (keys {sorted(spec_hp)}); give "
            f"{{{PROFILE}: <one of {profile_names(path)} in {path}>, ...overrides}}")
    profile = spec_hp.pop(PROFILE)
    base = load_profile_config(profile, path)
    cls.check_keys(base, f"{path} (profile {profile!r})")
    cls.check_keys(spec_hp, "the job spec's hyperparameters")
    return cls.from_dict({**base, **spec_hp})


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PROMPT_FORMATS = ("auto", "text", "chat")


@dataclass
class StageHyperparameters(Hyperparameters):
    """What every stage that trains an adapter shares: the optimiser, the LoRA adapter's shape, the
    prompt format, precision, the validation scoring and the CPU threads. Stages add their own
    fields (and may change a default by redeclaring it)."""

    learning_rate: float = 1e-4
    lr_scheduler_type: str = "constant"
    warmup_steps: float = 0.0             # a ratio of max_steps when < 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    micro_batch_size: int = 8             # sequences per forward/backward pass and device
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    prompt_format: str = "auto"           # auto | text | chat (chat when the tokenizer has a template)
    bf16: bool = False
    gradient_checkpointing: bool = False
    validation_examples: int = 16
    validation_max_new_tokens: int = TURN_TOKENS
    validation_batch_size: int = 8
    select_every: int = 0                 # >0: score the model on the validation split every N steps, ship the best (grpo/selection.py)
    select_max_plan_steps: int = 8        # turns per validation plan when selecting
    torch_threads: int | None = None      # None: torch's default (all cores)

    def validate(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}")
        if self.micro_batch_size < 1:
            raise ValueError("micro_batch_size must be >= 1")
        if self.select_every < 0:
            raise ValueError("select_every must be >= 0 (0: no checkpoint selection)")
        if self.select_max_plan_steps < 1:
            raise ValueError("select_max_plan_steps must be >= 1")

    def trainer_arguments(self, spec: Any, *, per_device: int, accumulation: int) -> dict[str, Any]:
        """The ``TrainingArguments`` every stage's TRL config shares: the job's steps and seed, the
        optimiser, the batch shape, precision, CPU/GPU; saving and logging are ours (the job runner's
        atomic checkpoints and history), so HF writes nothing to ``output_dir``."""
        import torch

        return dict(output_dir=str(Path(spec.checkpoint_dir)), max_steps=spec.max_steps, seed=spec.seed,
                    data_seed=spec.seed, learning_rate=self.learning_rate, lr_scheduler_type=self.lr_scheduler_type,
                    warmup_steps=self.warmup_steps, weight_decay=self.weight_decay, max_grad_norm=self.max_grad_norm,
                    per_device_train_batch_size=per_device, gradient_accumulation_steps=accumulation,
                    logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, bf16=self.bf16,
                    gradient_checkpointing=self.gradient_checkpointing, use_cpu=not torch.cuda.is_available(),
                    dataloader_num_workers=0)
