"""A tiny code location for the job-run tests: one species-partitioned asset and its job (no torch,
no training), so a run of "the code location's job" is cheap to make and to load in a gRPC server."""

import os
import warnings

import dagster as dg

species = dg.DynamicPartitionsDefinition(name="species")


@dg.asset(partitions_def=species)
def greeting(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info(f"hello {context.partition_key}")
    warnings.warn("a library's deprecation notice", FutureWarning)  # attributed to this module, not a library
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


main = dg.define_asset_job("main", selection=[greeting], partitions_def=species)
defs = dg.Definitions(assets=[greeting], jobs=[main])
