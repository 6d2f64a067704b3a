"""Evaluation of the production models (base, SRL, SRL->RLVR) on the held-out test split."""

import base64
from pathlib import Path

import dagster as dg

from ...core.hashing import content_hash
from ...core import catalogue
from ...core.atomic import read_json
from ...evaluation.report import METRICS as REPORT_METRICS
from ..artifact_sync import synced
from ..collaboration.resources import CollaborationResource
from ..partitions import species_partitions
from ..training.resources import TrainingSettings
from .resources import EvaluationSettings
from ..shared import lore_from_artifact, species_key
from ..ui_metadata import comparison_bars, models_table

PRODUCTION_MODELS = {m.name: m.adapter_asset for m in catalogue.production_models()}
EXPERIMENT_MODELS = {m.name: m.adapter_asset for m in catalogue.experiment_models()}
SHOWN = tuple(metric for metric, _ in REPORT_METRICS)
HANDWRITTEN = "handwritten"  # the suite of hand-written encounters, beside the test split


def evaluate_species(context: dg.AssetExecutionContext, training: TrainingSettings, evaluation: EvaluationSettings,
                     collaboration: CollaborationResource, models: dict,
                     references: bool = False) -> tuple[dict, dict]:
    """Evaluate `models` (name -> adapter asset, None for the base) on this species' test split
    and on its hand-written encounters (when the species has a file of them), with the reference
    rows (random legal policy, solver) when `references`; returns the artifact and its UI metadata."""
    from ...game.rules import ruleset_from_artifact
    from ...evaluation.evaluate import evaluate_models
    from ...evaluation.references import REFERENCE_POLICIES, evaluate_reference
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
    settings = evaluation.to_settings()
    encounters = hand_written_encounters(training, evaluation, collaboration, species, ruleset)
    suites = {HANDWRITTEN: encounters} if encounters else {}
    results = evaluate_models(candidates, tasks, ruleset, steps, settings, suites=suites)
    if references:
        for name in REFERENCE_POLICIES:
            results[name] = evaluate_reference(name, tasks, ruleset, settings.k, settings.seed, settings.max_steps)
            if encounters:
                results[name][HANDWRITTEN] = evaluate_reference(name, encounters[0], ruleset, settings.k,
                                                                settings.seed, settings.max_steps)
    for result in results.values():  # the hand-written column of the tables
        result[f"{HANDWRITTEN}_success_greedy"] = result.get(HANDWRITTEN, {}).get("success_greedy")
    artifact = {"species": species, "rules_version": ruleset.version, "test_tasks": len(tasks),
                "handwritten_tasks": len(encounters[0]) if encounters else 0,
                "settings": settings.to_dict(), "models": results}
    order = [m for m in catalogue.table_columns() if m in results]
    table = "\n\n".join(results_table({species: results}, order, metric) for metric in SHOWN)
    png = base64.b64encode(comparison_plot(results, order, title=f"{species}: held-out test split")).decode()
    metadata = {
        "comparison (greedy success)": comparison_bars(results, order),
        "models": models_table(results, order),
        "test_tasks": len(tasks),
        "handwritten_tasks": artifact["handwritten_tasks"],
        **{f"{name}/{metric}": results[name][metric] for name in order for metric in SHOWN
           if isinstance(results[name].get(metric), (int, float))},
        "table": dg.MetadataValue.md(table),
        "comparison": dg.MetadataValue.md(f"![models](data:image/png;base64,{png})"),
        **tier_metadata(results),
        "weakness": dg.MetadataValue.md("\n".join(
            f"- **{name}**: " + ("; ".join(results[name]["weakness"]["top_failure_modes"]) or "no failures")
            for name in order)),
    }
    return artifact, metadata


def tier_metadata(results: dict) -> dict:
    """The served tiers side by side (Bronze's SRL→RLVR, Silver, Gold): a table of success, step
    similarity, parameters and latency, inline bars of greedy success and the detailed plot."""
    from ...evaluation.plots import tier_plot

    tiers = {t: catalogue.TIER_MODELS[t] for t in catalogue.tier_names() if catalogue.TIER_MODELS[t] in results}
    if not tiers:
        return {}
    columns = {"success_greedy": "success greedy (%)", "step_similarity": "step similarity (%)",
               "parameters": "parameters", "latency_ms_per_turn": "latency (ms/turn)"}
    records = []
    for tier, model in tiers.items():
        r = results[model]
        row = {"tier": catalogue.tier(tier).label}
        for metric, header in columns.items():
            v = r.get(metric)
            row[header] = None if not isinstance(v, (int, float)) else (
                round(100 * v, 1) if metric in ("success_greedy", "step_similarity") else round(float(v), 3))
        records.append(dg.TableRecord(row))
    table = dg.MetadataValue.table(records, schema=dg.TableSchema(
        columns=[dg.TableColumn("tier", "string")] + [dg.TableColumn(h, "float") for h in columns.values()]))
    png = base64.b64encode(tier_plot({catalogue.tier(t).label: results[m] for t, m in tiers.items()})).decode()
    return {"tiers": table,
            "tiers (greedy success)": comparison_bars(results, list(tiers.values())),
            "tier comparison": dg.MetadataValue.md(f"![tiers](data:image/png;base64,{png})"),
            "tier weakness": dg.MetadataValue.md("\n".join(
                f"- **{catalogue.tier(t).label}**: " + ("; ".join(results[m]["weakness"]["top_failure_modes"])
                                                        or "no failures") for t, m in tiers.items()))}


def hand_written_encounters(training: TrainingSettings, evaluation: EvaluationSettings,
                            collaboration: CollaborationResource, species: str, ruleset) -> tuple | None:
    """(plan tasks, step examples) of the species' hand-written encounters, or None without a file."""
    from ...evaluation.encounters import encounter_tasks, encounters_path
    from ...game.lore_index import LoreIndex
    from ...game.scenario_files import read_scenario_file

    path = encounters_path(Path(evaluation.encounters_dir), species)
    if not path.is_file():
        return None
    layout = training.layout()
    lore = lore_from_artifact(read_json(layout.data("monster_lore", species=species)))
    index = LoreIndex.from_dict(read_json(layout.data("lore_index", species=species)))
    return encounter_tasks(read_scenario_file(path, ruleset, species), ruleset, lore, index,
                           collaboration.lore_passages)


@dg.asset(partitions_def=species_partitions, group_name="evaluation", code_version="2", io_manager_key="artifacts",
          deps=["rlvr_adapter", "srl_adapter", "silver_adapter", "gold_adapter", "srl_dataset", "monster_lore",
                "lore_index", *[dg.AssetKey(["base_models", t]) for t in catalogue.tier_names()]], kinds={"pytorch"})
@synced
def model_evaluation(context: dg.AssetExecutionContext, training: TrainingSettings,
                     evaluation: EvaluationSettings, collaboration: CollaborationResource) -> dg.Output[dict]:
    """Base, SRL, SRL->RLVR (Bronze) and the distilled Silver and Gold on the held-out test split and
    on the species' hand-written encounters: full-plan success (greedy and avg@k), step similarity,
    format errors, KL to base, parameters, latency per turn and a weakness report per model, beside
    the reference rows (a random legal policy, the solver); the tiers side by side in a plot."""
    artifact, metadata = evaluate_species(context, training, evaluation, collaboration, PRODUCTION_MODELS,
                                          references=True)
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


EVALUATION_ASSETS = [model_evaluation]
