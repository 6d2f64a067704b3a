"""Experiments (never scheduled): the paper's baselines (SFT and RLVR-only from the base), their
evaluation on the same held-out split, and the paper-style report over every species."""

import dagster as dg

from ...core.catalogue import MODELS, table_columns
from ...core.hashing import content_hash
from ...evaluation.report import write_report
from ..artifact_sync import synced
from ..evaluation.assets import EXPERIMENT_MODELS, evaluate_species
from ..collaboration.resources import CollaborationResource
from ..evaluation.resources import EvaluationSettings
from ..partitions import species_partitions
from ..training.assets import train_adapter
from ..training.backends import TrainingBackend
from ..training.resources import TrainingSettings
from ..ui_metadata import species_table


@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", pool="local_training",
          deps=["srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
@synced
def sft_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """Experiment: supervised fine-tuning of the base on the expert steps (the paper's SFT baseline)."""
    return train_adapter(context, training, training_backend, "sft_adapter", "sft", training.sft_max_steps)


@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", pool="local_training",
          deps=["srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
@synced
def rlvr_only_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """Experiment: RLVR from the base without SRL (the paper's RLVR baseline), as many RLVR steps
    as the SRL->RLVR model's RLVR stage (its SRL stage is extra compute the baseline does not get)."""
    return train_adapter(context, training, training_backend, "rlvr_only_adapter", "rlvr", training.rlvr_max_steps)


@dg.asset(partitions_def=species_partitions, group_name="experiments", code_version="1", io_manager_key="artifacts",
          deps=["sft_adapter", "rlvr_only_adapter", "srl_dataset", "monster_lore", "lore_index",
                                     dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
@synced
def experiment_evaluation(context: dg.AssetExecutionContext, training: TrainingSettings,
                          evaluation: EvaluationSettings, collaboration: CollaborationResource) -> dg.Output[dict]:
    """SFT and RLVR-only on the same held-out test split, hand-written encounters and settings as
    model_evaluation."""
    artifact, metadata = evaluate_species(context, training, evaluation, collaboration, EXPERIMENT_MODELS)
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


@dg.asset(group_name="experiments", code_version="1", deps=["model_evaluation", "experiment_evaluation"])
@synced
def experiment_report(context: dg.AssetExecutionContext, training: TrainingSettings) -> dg.MaterializeResult:
    """The paper-style table (base / SFT / RLVR-only / SRL / SRL->RLVR, per species and averaged)
    over every species evaluated so far, with the plots, written to artifacts/report/."""
    layout, mirror = training.layout(), training.mirror()
    if mirror.enabled:   # the learning curves read each evaluated species' adapters' metrics.json
        evaluated = {p.stem for p in (layout.root / "model_evaluation").glob("*.json")}
        for species in sorted(evaluated):
            for asset in sorted({m.adapter_asset for m in MODELS if m.adapter_asset}):
                mirror.fetch(layout.adapter(asset, species))
    report = write_report(layout.root)
    uri = mirror.publish(layout.report_dir())
    results = report["results"]
    models = [m for m in table_columns() if any(m in r for r in results.values())]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(content_hash(results)[:16]),
        metadata={"verdict": dg.MetadataValue.text(report["verdict"]),
                  "success greedy (%)": species_table(results, models, "success_greedy"),
                  "success avg@k (%)": species_table(results, models, "success_avg_k"),
                  "hand-written encounters, greedy (%)": species_table(results, models, "handwritten_success_greedy"),
                  "species": len(results), "report": dg.MetadataValue.path(str(report["path"])),
                  **({"report_uri": dg.MetadataValue.path(uri)} if uri else {}),
                  "table": dg.MetadataValue.md(report["table"])})


EXPERIMENT_ASSETS = [sft_adapter, rlvr_only_adapter, experiment_evaluation, experiment_report]
