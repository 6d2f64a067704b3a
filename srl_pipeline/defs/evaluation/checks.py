"""Checks of the evaluation: complete (blocking), within the KL target and the students keeping
Bronze's play (quality targets, WARN)."""

import dagster as dg

from ...core.catalogue import REFERENCES, TEACHERS, TIER_MODELS, model, tier
from ...evaluation.report import share_of
from ..check_results import check_result
from ..distillation.resources import DistillationSettings
from ..partitions import species_partitions
from .assets import PRODUCTION_MODELS
from .resources import EvaluationSettings


@dg.asset_check(partitions_def=species_partitions, asset="model_evaluation", blocking=True,
                description="Every production model (and each reference row) was evaluated on every held-out test scenario.")
def evaluation_complete(model_evaluation: dict) -> dg.AssetCheckResult:
    n = model_evaluation["test_tasks"]
    evaluated = {name: r.get("tasks") for name, r in model_evaluation["models"].items()}
    known = set(PRODUCTION_MODELS) | set(REFERENCES)
    ok = (n > 0 and set(PRODUCTION_MODELS) <= set(evaluated) <= known
          and all(v == n for v in evaluated.values()))
    return check_result(ok, f"{n} test scenarios; evaluated {evaluated}", test_tasks=n)


@dg.asset_check(partitions_def=species_partitions, asset="model_evaluation", blocking=False,
                description="The trained models stay within the KL target to the base model (quality target; reported).")
def evaluation_kl_within_target(model_evaluation: dict, evaluation: EvaluationSettings) -> dg.AssetCheckResult:
    # the reference rows run no model; Silver and Gold adapt other bases (no KL to Bronze's base)
    kls = {name: r.get("kl_to_base") for name, r in model_evaluation["models"].items()
           if name in PRODUCTION_MODELS and name != "base" and model(name).tier == "bronze"}
    ok = all(v is not None and v <= evaluation.kl_bound for v in kls.values())
    return check_result(ok, f"KL to base per model {kls} (target {evaluation.kl_bound})", warn=True)


@dg.asset_check(partitions_def=species_partitions, asset="model_evaluation", blocking=False,
                description="Each distilled tier keeps its share of Bronze's greedy test success (the cascade's targets, "
                            "distillation.keep_share; reported). A studio serves Gold to every common monster.")
def students_keep_bronzes_success(model_evaluation: dict, distillation: DistillationSettings) -> dg.AssetCheckResult:
    models = model_evaluation["models"]
    bronze = (models.get(TIER_MODELS["bronze"]) or {}).get("success_greedy")
    if not isinstance(bronze, (int, float)):
        return check_result(False, "Bronze's SRL→RLVR was not evaluated: no share to check", warn=True)
    parts, low, shares = [], [], {}
    for student in TEACHERS:   # silver, gold
        value = (models.get(TIER_MODELS[student]) or {}).get("success_greedy")
        name, want = tier(student).label, distillation.keep_share.get(student)
        if not isinstance(value, (int, float)):
            parts.append(f"{name} not evaluated")
            low.append(name)
            continue
        share = share_of(value, bronze)
        if share is None:
            parts.append(f"{name} {100 * value:.1f} %")
            continue
        shares[f"{student}_share_of_bronze"] = round(share, 4)
        target = f", target {100 * want:.0f} %" if want is not None else ""
        parts.append(f"{name} {100 * value:.1f} % ({100 * share:.0f} % of Bronze's{target})")
        if want is not None and share < want - 1e-9:   # 9 of 10 scenarios is 90 %, not 89.999...%
            low.append(name)
    head = f"Bronze {100 * bronze:.1f} %" if bronze else "Bronze wins no test scenario (0.0 %): no share to keep"
    text = f"{head}; " + ", ".join(parts) + (f"; below target: {', '.join(low)}" if low else "")
    return check_result(not low, text, warn=True, **shares)


EVALUATION_CHECKS = [evaluation_complete, evaluation_kl_within_target, students_keep_bronzes_success]
