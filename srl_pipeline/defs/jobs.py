"""Jobs over the species-partitioned graph."""

import dagster as dg

from .partitions import species_partitions

# Everything that exists so far for one species (the main job runs it per species).
main_job = dg.define_asset_job(
    "main", selection=dg.AssetSelection.all(), partitions_def=species_partitions,
    description="Every production asset of one species, from its lore to the latest stage.",
)

# What a rules or game-state change makes stale: the rules in force and everything below them.
rules_refresh_job = dg.define_asset_job(
    "rules_refresh", selection=dg.AssetSelection.assets("game_rules").downstream(),
    partitions_def=species_partitions,
    description="Re-derive the rules in force and everything downstream of them for one species.",
)
