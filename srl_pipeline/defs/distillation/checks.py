"""Checks of the cascade: the traces are what they claim (blocking), the students are healthy
(blocking, the same health checks as every adapter) and end closer to their teacher (a gain check:
blocking in the AWS profile, reported in the local one, like SRL's)."""

import dagster as dg

from ...core.atomic import read_json
from ..check_results import check_result
from ..partitions import species_partitions
from ..training.checks import _gain_severity, _metrics, health_checks
from ..training.resources import TrainingSettings
from .resources import DistillationSettings


@dg.asset_check(partitions_def=species_partitions, asset="bronze_traces", blocking=True,
                description="Every kept trace comes from a successful play whose verifier score reaches the threshold.")
def traces_verified(bronze_traces: dict, distillation: DistillationSettings) -> dg.AssetCheckResult:
    rows = bronze_traces["traces"]
    low = [r["id"] for r in rows if r["score"] < distillation.min_trace_score]
    s = bronze_traces["summary"]
    ok = not low and s["kept"] <= s["successes"] <= s["plays"] and bool(bronze_traces["teacher"]["adapter"])
    return check_result(ok, f"{s['kept']} of {s['plays']} plays kept ({len(rows)} turns), {len(low)} below "
                            f"{distillation.min_trace_score}; teacher {bronze_traces['teacher']['reason']}",
                        kept=s["kept"], plays=s["plays"])


def closer_to_teacher(asset: str, prefix: str):
    @dg.asset_check(partitions_def=species_partitions, asset=asset, blocking=True, name=f"{prefix}_closer_to_teacher",
                    description="The student's per-token KL to its teacher on the validation turns went down.")
    def _check(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
        m = _metrics(training, asset, context.partition_key)
        before, after = m.get("validation_kl_to_teacher_base"), m.get("validation_kl_to_teacher_trained")
        ok = before is not None and after is not None and after <= before
        return _gain_severity(check_result(ok, f"validation KL to the teacher: base student {before}, trained {after}",
                                           kl_before=before if before is not None else -1.0,
                                           kl_after=after if after is not None else -1.0), training)

    return _check


DISTILLATION_CHECKS = [traces_verified,
                       *health_checks("silver_adapter", "silver", kl=False, tier="silver"),
                       closer_to_teacher("silver_adapter", "silver"),
                       *health_checks("gold_adapter", "gold", kl=False, tier="gold"),
                       closer_to_teacher("gold_adapter", "gold")]
