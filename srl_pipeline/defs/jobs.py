"""Jobs over the species-partitioned graph."""

import dagster as dg

from .partitions import species_partitions

BASE_MODELS = dg.AssetSelection.groups("models")

# Everything that exists so far for one species (the main job runs it per species, after
# `base_models_job` has built the tiers' base models once).
main_job = dg.define_asset_job(
    "main", selection=dg.AssetSelection.all() - BASE_MODELS, partitions_def=species_partitions,
    description="Every production asset of one species, from its lore to the latest stage.",
)

# The data side only (no training): lore, rules, scenarios, trajectories and the SRL dataset.
data_job = dg.define_asset_job(
    "data", selection=dg.AssetSelection.assets("srl_dataset").upstream(), partitions_def=species_partitions,
    description="Lore -> rules -> scenarios -> expert trajectories -> SRL dataset for one species.",
)

# What a rules or game-state change makes stale: the rules in force and everything below them.
rules_refresh_job = dg.define_asset_job(
    "rules_refresh", selection=dg.AssetSelection.assets("game_rules").downstream(),
    partitions_def=species_partitions,
    description="Re-derive the rules in force and everything downstream of them for one species.",
)

base_models_job = dg.define_asset_job(
    "build_base_models", selection=BASE_MODELS, description="Build or register every tier's base model.")
