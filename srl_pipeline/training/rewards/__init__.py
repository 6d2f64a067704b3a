"""Rewards, one small file per reward family, and their TRL adapters.

- :mod:`.srl_step`: SRL's step-similarity reward and the format / step extraction it rests on;
- :mod:`.plan_outcome`: RLVR's reward from the simulator's verdict on a whole plan;
- :mod:`.trl_adapters`: the ``reward_funcs`` TRL calls (``srl``, ``simulator``).

The public names stay importable from ``srl_pipeline.training.rewards``.
"""

from .plan_outcome import plan_reward
from .srl_step import (
    FORMAT_PENALTY, THINK_CLOSE, THINK_OPEN, extract_step, format_ok, srl_reward, srl_rewards, step_end,
    step_similarity, truncate_after_step,
)
from .trl_adapters import completion_text, simulator, srl

__all__ = [
    "FORMAT_PENALTY", "THINK_CLOSE", "THINK_OPEN", "completion_text", "extract_step", "format_ok", "plan_reward",
    "simulator", "srl", "srl_reward", "srl_rewards", "step_end", "step_similarity", "truncate_after_step",
]
