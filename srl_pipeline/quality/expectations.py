"""Run a Great Expectations 1.x suite on a pandas frame and summarise it for a check's metadata.

One ephemeral GX context per process (creating one costs seconds); every call gets a fresh
suite, data asset and batch definition name so validations never see each other's state.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

_CONTEXT = None
_COUNTER = itertools.count()


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _CONTEXT = gx.get_context(mode="ephemeral")
        _CONTEXT.variables.progress_bars = ProgressBarsConfig(globally=False)
        _CONTEXT.data_sources.add_pandas("srl_frames")
    return _CONTEXT


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    detail: dict[str, Any]


@dataclass
class ValidationSummary:
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def describe_failures(self) -> str:
        return "; ".join(f"{o.expectation}({o.column or ''}): {o.detail}" for o in self.failed) or "all expectations met"

    def as_metadata(self) -> dict[str, Any]:
        return {
            "expectations_evaluated": len(self.outcomes),
            "expectations_failed": len(self.failed),
            "failures": self.describe_failures(),
        }


def validate_frame(df: pd.DataFrame, expectations: Sequence[Any], name: str) -> ValidationSummary:
    """Validate `df` against GX expectation objects (great_expectations.expectations.*)."""
    import great_expectations as gx

    ctx = _context()
    n = next(_COUNTER)
    source = ctx.data_sources.get("srl_frames")
    asset = source.add_dataframe_asset(f"{name}_{n}")
    batch_def = asset.add_batch_definition_whole_dataframe(f"{name}_{n}_batch")
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(name=f"{name}_{n}_suite")
    for e in expectations:
        suite.add_expectation(e.copy() if hasattr(e, "copy") else e)
    result = batch.validate(suite)
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        detail = {k: _plain(v) for k, v in (r.result or {}).items()
                  if k in ("observed_value", "unexpected_count", "partial_unexpected_list")}
        outcomes.append(ExpectationOutcome(cfg.type, cfg.kwargs.get("column"), bool(r.success), detail))
    source.delete_asset(asset.name)
    return ValidationSummary(bool(result.success), outcomes)


def _plain(v: Any) -> Any:
    if isinstance(v, list):
        return [_plain(x) for x in v[:5]]
    if isinstance(v, float) and v != v:
        return None
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
