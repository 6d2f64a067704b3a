"""Checks of the registration: every tier of the species has a version in production (blocking:
nothing downstream, e.g. a deployment step, may pick up a species with a tier missing)."""

import dagster as dg

from ..check_results import check_result
from ..partitions import species_partitions


@dg.asset_check(partitions_def=species_partitions, asset="registered_models", blocking=True,
                description="Every tier (Bronze, Silver, Gold) of the species has a version in production.")
def every_tier_in_production(registered_models: dict) -> dg.AssetCheckResult:
    tiers = registered_models["tiers"]
    missing = [t for t, o in tiers.items() if not o.get("production") and o.get("status") != "skipped"]
    shown = {t: f"v{o.get('production')} ({o.get('status')})" for t, o in tiers.items()}
    return check_result(not missing, f"production per tier: {shown}" + (f"; none for {missing}" if missing else ""))


REGISTRY_CHECKS = [every_tier_in_production]
