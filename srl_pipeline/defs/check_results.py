"""How every asset check reports: passed or not, one sentence a person reads, and metadata."""

import dagster as dg


def check_result(passed: bool, description: str, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=passed, metadata={"result": description, **metadata})
