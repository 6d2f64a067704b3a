"""A tiny code location for the job-run tests: species-partitioned assets and their jobs (no
torch, no training), so runs of "the code location's jobs" are cheap to make and to load."""

import os
import time

import dagster as dg

species = dg.DynamicPartitionsDefinition(name="species")


@dg.asset(partitions_def=species)
def greeting(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info(f"hello {context.partition_key}")
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


@dg.asset
def long_wait() -> None:
    """Runs until its process is killed (the run-monitoring test)."""
    time.sleep(600)


main = dg.define_asset_job("main", selection=[greeting], partitions_def=species)
slow = dg.define_asset_job("slow", selection=[long_wait])
defs = dg.Definitions(assets=[greeting, long_wait], jobs=[main, slow])
