"""Evaluation of the production models (base, SRL, SRL->RLVR) on the held-out test split."""

import base64

import dagster as dg

from ...core.hashing import content_hash
from ...core import catalogue
from ...core.atomic import read_json
from ...evaluation.report import METRICS as REPORT_METRICS
from ..partitions import species_partitions
from ..training.resources import TrainingSettings
from .resources import EvaluationSettings
from ..shared import species_key

PRODUCTION_MODELS = {m.name: m.adapter_asset for m in catalogue.production_models()}
EXPERIMENT_MODELS = {m.name: m.adapter_asset for m in catalogue.experiment_models()}
SHOWN = tuple(metric for metric, _ in REPORT_METRICS)


def evaluate_species(context: dg.AssetExecutionContext, training: TrainingSettings, evaluation: EvaluationSettings,
                     models: dict) -> tuple[dict, dict]:
    """Evaluate `models` (name -> adapter asset, None for the base) on this species' test split;
    returns the artifact and its UI metadata."""
    from ...game.rules import ruleset_from_artifact
    from ...evaluation.evaluate import evaluate_models
    from ...evaluation.plots import comparison_plot
    from ...evaluation.report import results_table
    from ...training.plan_rollout import PlanTask

    species = species_key(context)
    data = read_json(training.layout().data("srl_dataset", species=species))
    ruleset = ruleset_from_artifact(data["rules"])
    tasks = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
    steps = [e for e in data["examples"] if e["split"] == "test"]
    candidates = {name: (training.base_model(catalogue.model(name).tier),
                         str(training.layout().adapter(asset, species)) if asset else None)
                  for name, asset in models.items()}
    results = evaluate_models(candidates, tasks, ruleset, steps, evaluation.to_settings())
    artifact = {"species": species, "rules_version": ruleset.version, "test_tasks": len(tasks),
                "settings": evaluation.to_settings().to_dict(), "models": results}
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


EVALUATION_ASSETS = [model_evaluation]
