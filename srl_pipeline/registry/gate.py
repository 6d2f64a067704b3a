"""The promotion gate: a candidate replaces the version in production only when its evaluation
passed, its turns parse (greedy format errors at most ``max_format_error_rate``) and it does not
regress on the gated metric by more than the tolerance.

Why a format bar: a first version has nothing to regress against, and a distilled Gold whose every
greedy turn broke the format (main run 4, zombie) was otherwise approved as production.

Why a tolerance: the evaluation of the tiny local models is noisy (a handful of held-out
scenarios), so a deployment may accept a tie within a point or two; the default (0) accepts no drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def promotion_decision(candidate: dict[str, Any], production: dict[str, Any] | None, *, metric: str,
                       tolerance: float, evaluation_passed: bool,
                       max_format_error_rate: float = 1.0) -> GateDecision:
    """Whether ``candidate``'s metrics may replace ``production``'s (None: nothing in production yet)."""
    if not evaluation_passed:
        return GateDecision(False, "refused: its evaluation did not pass")
    errors = candidate.get("format_error_rate")
    if isinstance(errors, (int, float)) and errors > max_format_error_rate:
        return GateDecision(False, f"refused: {errors:.0%} of its greedy turns break the format "
                                   f"(at most {max_format_error_rate:.0%})")
    value = candidate.get(metric)
    if not isinstance(value, (int, float)):
        return GateDecision(False, f"refused: the evaluation has no {metric!r}")
    if production is None:
        return GateDecision(True, f"promoted: first version ({metric} {value:.4g})")
    current = production.get(metric)
    if not isinstance(current, (int, float)):
        return GateDecision(True, f"promoted: the version in production has no {metric!r} ({metric} {value:.4g})")
    if value < current - tolerance:
        return GateDecision(False, f"refused: {metric} {value:.4g} regresses on production's {current:.4g} "
                                   f"by more than the tolerance {tolerance:g}")
    return GateDecision(True, f"promoted: {metric} {value:.4g} vs production's {current:.4g} (tolerance {tolerance:g})")
