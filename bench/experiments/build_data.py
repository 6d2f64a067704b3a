"""Materialise a species' data assets only (rules, lore, index, scenarios, expert trajectories, SRL
dataset), no training: `PYTHONPATH=. python bench/experiments/build_data.py lich`."""
import sys

import dagster as dg

from srl_pipeline.cli.main_command import _instance
from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.definitions import defs

species = sys.argv[1]
instance = _instance()
if species not in instance.get_dynamic_partitions(species_partitions.name):
    instance.add_dynamic_partitions(species_partitions.name, [species])
keys = [dg.AssetKey(k) for k in ("game_rules", "monster_lore", "lore_index", "scenarios", "expert_trajectories", "srl_dataset")]
job = defs.get_implicit_global_asset_job_def()
res = job.execute_in_process(instance=instance, partition_key=species, asset_selection=keys, raise_on_error=False)
print("ok" if res.success else "FAILED")
