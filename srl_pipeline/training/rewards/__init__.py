"""Rewards, one small file per reward family, and their TRL adapters.

- :mod:`.srl_step`: SRL's step-similarity reward (the paper's) and the format / step extraction it rests on;
- :mod:`.srl_decision`: SRL's decision-weighted variant (action and arguments weighted more than the line);
- :mod:`.plan_outcome`: RLVR's reward from the simulator's verdict on a whole plan;
- :mod:`.trl_adapters`: the ``reward_funcs`` TRL calls (``srl``, ``simulator``).

The public names stay importable from ``srl_pipeline.training.rewards``.
"""

from .plan_outcome import plan_reward
from .srl_step import (
    FORMAT_PENALTY, THINK_CLOSE, THINK_OPEN, extract_step, format_ok, srl_reward, srl_rewards, step_end,
    step_similarity, truncate_after_step,
)
from .srl_decision import REWARDS, decision_reward, reward_function
from .trl_adapters import completion_text, simulator, srl, srl_reward_func

__all__ = [
    "FORMAT_PENALTY", "REWARDS", "THINK_CLOSE", "THINK_OPEN", "completion_text", "decision_reward", "extract_step",
    "format_ok", "plan_reward", "reward_function", "simulator", "srl", "srl_reward", "srl_reward_func", "srl_rewards",
    "step_end", "step_similarity", "truncate_after_step",
]
