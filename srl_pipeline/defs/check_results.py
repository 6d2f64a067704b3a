"""How every asset check reports: passed or not, one sentence a person reads, and metadata."""

import dagster as dg


def check_result(passed: bool, description: str, *, warn: bool = False, **metadata) -> dg.AssetCheckResult:
    """``warn``: a failure is reported (severity WARN) and does not stop what runs after it."""
    severity = dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(passed=passed, severity=severity, metadata={"result": description, **metadata})
