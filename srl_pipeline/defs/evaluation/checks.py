"""Checks of the evaluation: complete (blocking) and within the KL target (a quality target, WARN)."""

import dagster as dg

from ...core.catalogue import REFERENCES, model
from ..check_results import check_result
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


EVALUATION_CHECKS = [evaluation_complete, evaluation_kl_within_target]
