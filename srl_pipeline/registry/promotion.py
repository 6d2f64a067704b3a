"""Registration through the gate: what ``registered_models`` does for each tier of a species.

A candidate the gate lets through is registered ``Approved`` (production at once) or, where the
deployment wants a person to look first, ``PendingManualApproval``; a refused one is registered
``Rejected`` with the gate's reason, so the registry shows what was tried and why it is not served,
and the version in production stays. An adapter already registered as the production version
(the same weights, e.g. a nightly run whose inputs did not change) is not registered again.
"""

from __future__ import annotations

from dataclasses import replace

from .backend import ModelRegistry
from .gate import promotion_decision
from .records import APPROVED, PENDING, REJECTED, Candidate, ModelVersion


def register_if_better(registry: ModelRegistry, candidate: Candidate, *, evaluation_passed: bool, metric: str,
                       tolerance: float, manual_approval: bool = False,
                       max_format_error_rate: float = 1.0) -> ModelVersion:
    production = registry.production(candidate.species, candidate.tier)
    if production is not None and production.adapter_version == candidate.adapter_version:
        return production
    decision = promotion_decision(candidate.metrics, production.metrics if production else None, metric=metric,
                                  tolerance=tolerance, evaluation_passed=evaluation_passed,
                                  max_format_error_rate=max_format_error_rate)
    status = (PENDING if manual_approval else APPROVED) if decision.promote else REJECTED
    return registry.register(replace(candidate, gate=decision.reason), status=status)
