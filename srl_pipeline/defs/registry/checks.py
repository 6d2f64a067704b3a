"""Checks of the registration: every tier of the species has a version in production (blocking:
nothing downstream, e.g. a deployment step, may pick up a species with a tier missing), and whether
each tier's model of this run plays better than the untrained base (WARN: a first version has nothing
to regress against, so the gate approves a model that learnt nothing; the studio should see that)."""

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


@dg.asset_check(partitions_def=species_partitions, asset="registered_models", blocking=False,
                description="Every tier's model of this run plays better than the untrained Bronze base on the gate's "
                            "metric (reported, not blocking).")
def tiers_beat_the_untrained_base(registered_models: dict) -> dg.AssetCheckResult:
    base = registered_models.get("untrained_base") or {}
    metric, floor = base.get("metric"), base.get("value")
    values = {t: (o.get("metrics") or {}).get(metric) for t, o in registered_models["tiers"].items()
              if o.get("status") != "skipped"}
    if not isinstance(floor, (int, float)):
        return check_result(False, f"the evaluation has no {metric!r} for the untrained base", warn=True)
    learnt_nothing = [t for t, v in values.items() if not isinstance(v, (int, float)) or v <= floor]
    shown = ", ".join(f"{t} {v:.3g}" if isinstance(v, (int, float)) else f"{t} none" for t, v in values.items())
    text = f"{metric}: {shown}; untrained base {floor:.3g}" + (
        f"; no better than the untrained base: {learnt_nothing}" if learnt_nothing else "")
    return check_result(not learnt_nothing, text, warn=True)


REGISTRY_CHECKS = [every_tier_in_production, tiers_beat_the_untrained_base]
