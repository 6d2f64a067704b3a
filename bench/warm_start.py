"""Re-run the two students of a species on the local instance `make main` filled (unchanged traces:
what a warm-started nightly run trains) and print their steps and train seconds against the
from-scratch run's.

    SRL_PROFILE=local DAGSTER_HOME=$PWD/.dagster_home .venv/bin/python bench/warm_start.py vampire
"""
import json, sys, time
import dagster as dg

if __name__ == "__main__":
    from srl_pipeline.cli.local_instance import local_instance
    from srl_pipeline.definitions import defs

    species = sys.argv[1]
    instance = local_instance()
    t0 = time.monotonic()
    r = defs.resolve_job_def("cascade").execute_in_process(
        instance=instance, partition_key=species, raise_on_error=False,
        asset_selection=[dg.AssetKey("silver_adapter"), dg.AssetKey("gold_adapter")], tags={"trigger": "warm-start bench"})
    print("warm run", r.success, round(time.monotonic() - t0, 1), "s wall")
    layout = defs.resources["training"].layout()
    for a in ("silver_adapter", "gold_adapter"):
        m = json.loads((layout.adapter(a, species) / "metrics.json").read_text())
        print(a, {k: m.get(k) for k in ("warm_started", "global_step", "train_seconds", "from_scratch_train_seconds",
                                         "from_scratch_steps", "cost_vs_scratch", "new_traces", "sft_steps")})
