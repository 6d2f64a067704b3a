"""Evaluation on the held-out test split: the production models (base, SRL, SRL->RLVR) and, as
experiments, the paper's baselines (SFT, RLVR-only); the paper-style report over all species."""

import base64
import json
from pathlib import Path

import dagster as dg

from ..core import catalogue
from ..evaluation.report import METRICS as REPORT_METRICS, write_report
from ..game.documents import content_hash
from .game_checks import _result
from .partitions import species_partitions
from .resources import EvaluationSettings, TrainingSettings
from .shared import species_key
from .training_assets import adapter_dir, base_model_location, train_adapter
from .training_backend import TrainingBackend
from .training_checks import health_checks

PRODUCTION_MODELS = {m.name: m.adapter_asset for m in catalogue.production_models()}
EXPERIMENT_MODELS = {m.name: m.adapter_asset for m in catalogue.experiment_models()}
SHOWN = tuple(metric for metric, _ in REPORT_METRICS)


def evaluate_species(context: dg.AssetExecutionContext, training: TrainingSettings, evaluation: EvaluationSettings,
                     models: dict) -> tuple[dict, dict]:
    """Evaluate `models` (name -> adapter asset, None for the base) on this species' test split;
    returns the artifact and its UI metadata."""
    from ..game.rules import ruleset_from_artifact
    from ..evaluation.evaluate import evaluate_models
    from ..evaluation.plots import comparison_plot
    from ..evaluation.report import results_table
    from ..training.plan_rollout import PlanTask

    species = species_key(context)
    data = json.loads((Path(training.artifacts_dir) / "srl_dataset" / f"{species}.json").read_text(encoding="utf-8"))
    ruleset = ruleset_from_artifact(data["rules"])
    tasks = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
    steps = [e for e in data["examples"] if e["split"] == "test"]
    candidates = {name: (base_model_location(training, catalogue.model(name).tier),
                         str(adapter_dir(training, asset, species)) if asset else None)
                  for name, asset in models.items()}
    results = evaluate_models(candidates, tasks, ruleset, steps, evaluation.settings())
    artifact = {"species": species, "rules_version": ruleset.version, "test_tasks": len(tasks),
                "settings": evaluation.settings().to_dict(), "models": results}
    order = [m for m in catalogue.model_names() if m in results]
    table = "\n\n".join(results_table({species: results}, order, metric) for metric in SHOWN)
    png = base64.b64encode(comparison_plot(results, order, title=f"{species}: held-out test split")).decode()
    metadata = {
        "test_tasks": len(tasks),
        **{f"{name}/{metric}": results[name][metric] for name in order for metric in SHOWN
           if isinstance(results[name].get(metric), (int, float))},
        "table": dg.MetadataValue.md(table),
        "comparison": dg.MetadataValue.md(f"![models](data:image/png;base64,{png})"),
        "weakness": dg.MetadataValue.md("\n".join(
            f"- **{name}**: " + ("; ".join(results[name]["weakness"]["top_failure_modes"]) or "no failures")
            for name in order)),
    }
    return artifact, metadata


@dg.asset(partitions_def=species_partitions, group_name="evaluation", code_version="1", io_manager_key="artifacts",
          deps=["rlvr_adapter", "srl_adapter", "srl_dataset"], kinds={"pytorch"})
def model_evaluation(context: dg.AssetExecutionContext, training: TrainingSettings,
                     evaluation: EvaluationSettings) -> dg.Output[dict]:
    """Base, SRL and SRL->RLVR on the held-out test split: full-plan success (greedy and avg@k),
    step similarity, format errors, KL to base, and a weakness report per model."""
    artifact, metadata = evaluate_species(context, training, evaluation, PRODUCTION_MODELS)
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


@dg.asset_check(partitions_def=species_partitions, asset="model_evaluation", blocking=True,
                description="Every production model was evaluated on every held-out test scenario.")
def evaluation_complete(model_evaluation: dict) -> dg.AssetCheckResult:
    n = model_evaluation["test_tasks"]
    evaluated = {name: r.get("tasks") for name, r in model_evaluation["models"].items()}
    ok = n > 0 and set(evaluated) == set(PRODUCTION_MODELS) and all(v == n for v in evaluated.values())
    return _result(ok, f"{n} test scenarios; evaluated {evaluated}", test_tasks=n)


@dg.asset_check(partitions_def=species_partitions, asset="model_evaluation", blocking=False,
                description="The trained models stay within the KL target to the base model (quality target; reported).")
def evaluation_kl_within_target(model_evaluation: dict, evaluation: EvaluationSettings) -> dg.AssetCheckResult:
    kls = {name: r.get("kl_to_base") for name, r in model_evaluation["models"].items() if name != "base"}
    ok = all(v is not None and v <= evaluation.kl_bound for v in kls.values())
    return dg.AssetCheckResult(passed=ok, severity=dg.AssetCheckSeverity.WARN, metadata={
        "result": f"KL to base per model {kls} (target {evaluation.kl_bound})"})


# ---- experiments: the paper's baselines, not on the production path ---------------------------
@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", pool="local_training",
          deps=["srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
def sft_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """Experiment: supervised fine-tuning of the base on the expert steps (the paper's SFT baseline)."""
    return train_adapter(context, training, training_backend, "sft_adapter", "sft", training.sft_max_steps)


@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", pool="local_training",
          deps=["srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
def rlvr_only_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """Experiment: RLVR from the base without SRL (the paper's RLVR baseline), as many RLVR steps
    as the SRL->RLVR model's RLVR stage (its SRL stage is extra compute the baseline does not get)."""
    return train_adapter(context, training, training_backend, "rlvr_only_adapter", "rlvr", training.rlvr_max_steps)


@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", io_manager_key="artifacts",
          deps=["sft_adapter", "rlvr_only_adapter", "srl_dataset"], kinds={"pytorch"})
def experiment_evaluation(context: dg.AssetExecutionContext, training: TrainingSettings,
                          evaluation: EvaluationSettings) -> dg.Output[dict]:
    """SFT and RLVR-only on the same held-out test split and settings as model_evaluation."""
    artifact, metadata = evaluate_species(context, training, evaluation, EXPERIMENT_MODELS)
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


@dg.asset(group_name="experiments", code_version="1", deps=["model_evaluation", "experiment_evaluation"])
def experiment_report(context: dg.AssetExecutionContext, training: TrainingSettings) -> dg.MaterializeResult:
    """The paper-style table (base / SFT / RLVR-only / SRL / SRL->RLVR, per species and averaged)
    over every species evaluated so far, with the plots, written to artifacts/report/."""
    report = write_report(Path(training.artifacts_dir))
    return dg.MaterializeResult(
        data_version=dg.DataVersion(content_hash(report["results"])[:16]),
        metadata={"species": len(report["results"]), "report": dg.MetadataValue.path(str(report["path"])),
                  "table": dg.MetadataValue.md(report["table"])})


EVALUATION_ASSETS = [model_evaluation]
EVALUATION_CHECKS = [evaluation_complete, evaluation_kl_within_target]
EXPERIMENT_ASSETS = [sft_adapter, rlvr_only_adapter, experiment_evaluation, experiment_report]
EXPERIMENT_CHECKS = [*health_checks("sft_adapter", "sft", kl=False), *health_checks("rlvr_only_adapter", "rlvr_only")]
