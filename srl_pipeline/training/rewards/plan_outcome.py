"""The RLVR reward: the simulator's verdict on a whole plan, nothing else (DESIGN.md §5)."""

from __future__ import annotations

__all__ = ["plan_reward"]


def plan_reward(outcome: str, legal_steps: int, max_steps: int, progress_credit: float = 0.0) -> float:
    """The RLVR reward in [0, 1], from the simulator's verdict only.

    1.0 for ``success``. Otherwise ``progress_credit * legal_steps / max_steps`` (0 by default):
    an optional, small credit for legal, well-formed steps before the plan ended, for a model that
    almost never reaches a goal (every group flat at 0 carries no signal and dynamic sampling would
    drop it). It is bounded by ``progress_credit`` (keep it well under 1) so any success outranks
    any failure, and it still comes only from the simulator (legality is its verdict)."""
    if outcome == "success":
        return 1.0
    return progress_credit * min(legal_steps, max_steps) / max(1, max_steps)
