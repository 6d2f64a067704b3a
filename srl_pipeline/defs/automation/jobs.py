"""Jobs over the species-partitioned graph."""

import dagster as dg

from ..partitions import species_partitions

BASE_MODELS = dg.AssetSelection.groups("models")
# The paper's baselines (SFT, RLVR-only) and the cross-species report: run by the main command,
# never by schedules or sensors.
EXPERIMENTS = dg.AssetSelection.groups("experiments")
REPORT = dg.AssetSelection.assets("experiment_report")

# Every production asset for one species (the main command runs it per species, after
# `base_models_job` has built the tiers' base models once).
main_job = dg.define_asset_job(
    "main", selection=dg.AssetSelection.all() - BASE_MODELS - EXPERIMENTS, partitions_def=species_partitions,
    description="Every production asset of one species: lore -> ... -> SRL -> RLVR -> Silver -> Gold -> evaluation "
                "-> registration.",
)

experiments_job = dg.define_asset_job(
    "experiments", selection=EXPERIMENTS - REPORT, partitions_def=species_partitions,
    description="The paper's baselines for one species: SFT and RLVR-only from the base, and their evaluation.",
)

report_job = dg.define_asset_job(
    "report", selection=REPORT,
    description="The paper-style table and plots over every evaluated species (artifacts/report/).",
)

# The data side only (no training): lore, rules, scenarios, trajectories and the SRL dataset.
data_job = dg.define_asset_job(
    "data", selection=dg.AssetSelection.assets("srl_dataset").upstream(), partitions_def=species_partitions,
    description="Lore -> rules -> scenarios -> expert trajectories -> SRL dataset for one species.",
)

# What a rules or game-state change makes stale: the rules in force and everything below them.
rules_refresh_job = dg.define_asset_job(
    "rules_refresh", selection=dg.AssetSelection.assets("game_rules").downstream() - EXPERIMENTS,
    partitions_def=species_partitions,
    description="Re-derive the rules in force and everything downstream of them for one species.",
)

# The distillation cascade on top of the Bronze that exists (the nightly schedule runs it): Bronze's
# training is not in it, so a failed Bronze never stops it (bronze_traces falls back to the last
# registered Bronze).
CASCADE = dg.AssetSelection.assets("bronze_traces", "silver_adapter", "gold_adapter", "model_evaluation",
                                   "registered_models")
cascade_job = dg.define_asset_job(
    "cascade", selection=CASCADE, partitions_def=species_partitions,
    description="bronze_traces -> Silver -> Gold -> evaluation of every tier -> registration, for one species.",
)

base_models_job = dg.define_asset_job(
    "build_base_models", selection=BASE_MODELS, description="Build or register every tier's base model.")
JOBS = [main_job, data_job, rules_refresh_job, cascade_job, base_models_job, experiments_job, report_job]
