"""RLVR's config, beside its trainer (:mod:`.rlvr_trainer`): SRL's knobs plus the plan rollout's.

Like :mod:`.srl_config`, a dataclass that builds TRL's ``GRPOConfig``; ``configs/training/rlvr.yaml``
holds the values, its profiles extending SRL's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .hyperparameters import CONFIG_DIR, resolve
from .srl_config import SRLHyperparameters

CONFIG_PATH = CONFIG_DIR / "rlvr.yaml"


@dataclass
class RLVRHyperparameters(SRLHyperparameters):
    """SRL's knobs plus the plan rollout's."""

    label: ClassVar[str] = "RLVR"
    max_plan_steps: int = 8               # turns per plan before it counts as unfinished
    progress_credit: float = 0.0          # see plan_reward; 0 = outcome only
    validation_tasks: int = 16            # validation scenarios scored (greedy plans) before/after
    negative_advantages: bool = True      # False: a plan below its group's mean gets advantage 0, not a push away
    # replay_wins / replay_advantage (SRL's keys): verified winning plans replayed per step, every turn at the advantage
    search_samples: int = 0               # plans sampled per train scenario before step 1 to fill the wins buffer
    search_temperature: float = 1.0
    search_menu_constrained: bool = True  # the search's action calls stay on the menu, as a game engine would offer them

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.progress_credit < 1.0:
            raise ValueError("progress_credit must be in [0, 1): a success must outrank any failure")
        if self.max_plan_steps < 1:
            raise ValueError("max_plan_steps must be >= 1")
        if self.search_samples < 0:
            raise ValueError("search_samples must be >= 0")
        if self.search_samples and not self.replay_wins:
            raise ValueError("search_samples needs replay_wins > 0: the search only fills the wins buffer")
        if self.search_temperature <= 0.0:
            raise ValueError("search_temperature must be > 0")


def resolve_rlvr_hyperparameters(spec_hp: dict[str, Any]) -> RLVRHyperparameters:
    """The job spec's ``{profile: <name>, ...overrides}`` over ``configs/training/rlvr.yaml``."""
    return resolve(spec_hp, RLVRHyperparameters, CONFIG_PATH)
