"""The reward functions as TRL's ``GRPOTrainer`` calls them (``reward_funcs``), one per stage.

TRL names its logged reward columns after the function (``rewards/<name>/mean``), so the names
``srl`` and ``simulator`` are part of the logs; the scoring itself lives in one file per reward
family (:mod:`.srl_step`, :mod:`.plan_outcome`).
"""

from __future__ import annotations

from typing import Any, Callable

from .srl_decision import reward_function
from .srl_step import srl_reward

__all__ = ["completion_text", "simulator", "srl", "srl_reward_func"]


def completion_text(completion: Any) -> str:
    """The text of a TRL completion, plain or conversational (``[{"role": "assistant", ...}]``)."""
    if isinstance(completion, list):
        return str(completion[-1].get("content", "")) if completion else ""
    return str(completion)


def srl(completions: list[Any], target: list[str], **kwargs: Any) -> list[float]:
    """SRL reward of each completion against its expert step (the dataset's ``target`` column,
    passed by TRL as a keyword argument)."""
    return [srl_reward(completion_text(c), t) for c, t in zip(completions, target)]


def srl_reward_func(name: str = "paper", ruleset: Any = None) -> Callable[..., list[float]]:
    """SRL's ``reward_funcs`` entry for the ``reward`` hyperparameter (``paper`` is :func:`srl`),
    named ``srl`` either way so TRL logs ``rewards/srl/mean``."""
    if name == "paper":
        return srl
    score = reward_function(name, ruleset)

    def srl_variant(completions: list[Any], target: list[str], prompts: list[Any] | None = None,
                    **kwargs: Any) -> list[float]:
        texts = [completion_text(p) for p in prompts] if prompts is not None else [""] * len(completions)
        return [score(completion_text(c), t, p) for c, t, p in zip(completions, target, texts)]

    srl_variant.__name__ = "srl"
    return srl_variant


def simulator(completions: list[Any], **kwargs: Any) -> list[float]:
    """Named reward slot for TRL's bookkeeping (``rewards/simulator/mean``). RLVR scores whole
    plans in its own generation step (:class:`~..rlvr_trainer.RLVRTrainer`); single completions
    are never scored, so reaching this is a bug."""
    raise RuntimeError("RLVR rewards come from full-plan rollouts, not from single completions")
