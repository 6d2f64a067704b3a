"""SRL's config, beside its trainer (:mod:`.srl_trainer`): every knob of an SRL run.

A plain dataclass that *builds* TRL's ``GRPOConfig`` (:meth:`SRLHyperparameters.trl_config`)
rather than a ``GRPOConfig`` subclass: the stage's knobs are counted in prompts and groups
(``batch_prompts``), carry the KL controller, dynamic sampling, LoRA and validation settings TRL
has no field for, and are checked against the YAML profile's keys (a typo is an error), which a
subclass with TRL's ~200 fields could not do. ``configs/training/srl.yaml`` holds the per-profile
values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..core.turn_budget import TURN_TOKENS
from .hyperparameters import CONFIG_DIR, StageHyperparameters, load_profile_config, resolve
from .job_spec import TrainingJobSpec
from .grpo.menu_groups import EXPLORATIONS
from .rewards.srl_decision import REWARDS

CONFIG_PATH = CONFIG_DIR / "srl.yaml"
SCALE_REWARDS = ("group", "none")   # advantages: group z-score | reward minus the group mean


@dataclass
class SRLHyperparameters(StageHyperparameters):
    """Every knob of an SRL run (GRPO with dynamic sampling and an adaptive KL bound)."""

    label: ClassVar[str] = "SRL"

    num_generations: int = 4              # rollouts per prompt (G)
    batch_prompts: int = 2                # prompts (groups) per optimizer step
    temperature: float = 1.0
    top_p: float = 1.0
    max_completion_length: int = TURN_TOKENS
    loss_type: str = "grpo"
    epsilon: float = 0.2                  # PPO clip
    scale_rewards: str = "group"          # group: z-score within the group (the paper's GRPO) | none: reward minus the
                                          # group mean (Dr. GRPO), so small reward differences stay small advantages
    beta: float = 0.04                    # initial KL coefficient (> 0: the KL is measured every step)
    kl_target: float = 0.1
    kl_adaptive: bool = True
    kl_adapt_factor: float = 1.5
    beta_min: float | None = None         # default: the initial beta
    beta_max: float = 10.0
    kl_stop_multiple: float = 2.0
    kl_stop_patience: int = 3
    dynamic_sampling: bool = True
    dynamic_sampling_epsilon: float = 1e-4
    max_extra_generation_rounds: int = 3
    use_vllm: bool = False
    stop_after_step: bool = True          # generation stops at the newline that ends the step line
    reward: str = "paper"                 # paper (difflib over the whole step) | decision (rewards/srl_decision.py) | effect (srl_effect.py)
    menu_constrained: bool = False        # sampled action calls stay on the prompt's menu (menu_constraint.py)
    group_exploration: str = "sample"     # sample | menu: each completion of a group commits to another menu action (grpo/menu_groups.py)
    replay_wins: int = 0                  # wins replayed per step from the stage's wins buffer (win_replay.py): SRL's are the
                                          # model's own sampled steps whose call does what the expert's does; RLVR's, winning plans
    replay_advantage: float = 1.0         # the advantage of every replayed row

    def validate(self) -> None:
        super().validate()
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2 (GRPO needs a group)")
        if self.beta <= 0:
            raise ValueError("beta must be > 0: the KL to the base model is measured and bounded every step")
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards must be one of {', '.join(SCALE_REWARDS)} (got {self.scale_rewards!r})")
        if self.group_exploration not in EXPLORATIONS:
            raise ValueError(f"group_exploration must be one of {', '.join(EXPLORATIONS)}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}")
        if self.replay_wins < 0:
            raise ValueError("replay_wins must be >= 0")
        if not 0.0 < self.replay_advantage <= 10.0:
            raise ValueError("replay_advantage must be in (0, 10]")

    def trl_config(self, spec: TrainingJobSpec, world_size: int = 1):
        """TRL's ``GRPOConfig`` for this job (saving is ours: ``save_strategy="no"``)."""
        from trl import GRPOConfig

        completions = self.batch_prompts * self.num_generations
        per_step = self.micro_batch_size * world_size
        if completions % per_step:
            raise ValueError(f"batch_prompts*num_generations ({completions}) must be a multiple of "
                             f"micro_batch_size*world_size ({per_step})")
        return GRPOConfig(
            **self.trainer_arguments(spec, per_device=self.micro_batch_size, accumulation=completions // per_step),
            num_generations=self.num_generations, temperature=self.temperature, top_p=self.top_p,
            max_completion_length=self.max_completion_length, loss_type=self.loss_type, epsilon=self.epsilon,
            scale_rewards=self.scale_rewards, beta=self.beta, use_vllm=self.use_vllm,
            remove_unused_columns=False, log_completions=False,
        )


def build_grpo_config(spec: TrainingJobSpec, hp: SRLHyperparameters, world_size: int = 1):
    """TRL's ``GRPOConfig`` for ``spec`` under ``hp`` (SRL and RLVR)."""
    return hp.trl_config(spec, world_size)


def load_srl_config(profile: str = "local", path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The resolved values of a profile of ``configs/training/srl.yaml``."""
    return load_profile_config(profile, path)


def resolve_hyperparameters(spec_hp: dict[str, Any], cls: type = SRLHyperparameters, path: Path = CONFIG_PATH):
    """The job spec's ``{profile: <name>, ...overrides}`` as a ``cls`` instance (see hyperparameters.py)."""
    return resolve(spec_hp, cls, path)
