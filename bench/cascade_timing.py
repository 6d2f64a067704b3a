"""Wall time of every step of a species' latest runs on the local instance (`make main` fills it):
Bronze's SRL stage against the two distillation students, and a nightly cascade run (warm-started
students) against the from-scratch one.

    DAGSTER_HOME=$PWD/.dagster_home .venv/bin/python bench/cascade_timing.py --species vampire [--run-cascade]

``--run-cascade`` first runs the `cascade` job once more for the species (what the nightly
schedule does), so its warm-started students can be compared with the from-scratch ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def step_seconds(instance, run_id: str) -> dict[str, float]:
    import dagster as dg

    starts, out = {}, {}
    for record in instance.get_records_for_run(run_id).records:
        e = record.event_log_entry
        if not e.is_dagster_event:
            continue
        ev = e.dagster_event
        if ev.event_type == dg.DagsterEventType.STEP_START:
            starts[ev.step_key] = e.timestamp
        elif ev.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and ev.step_key in starts:
            out[ev.step_key] = round(e.timestamp - starts[ev.step_key], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--run-cascade", action="store_true")
    args = ap.parse_args()
    import dagster as dg

    from srl_pipeline.cli.job_runs import execute_job_run
    from srl_pipeline.cli.local_instance import local_instance
    from srl_pipeline.definitions import defs

    instance = local_instance()
    if args.run_cascade:
        execute_job_run(instance, "cascade", partition_key=args.species, tags={"trigger": "bench", "species": args.species})
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": args.species}), limit=20)
    layout = defs.resources["training"].layout()
    report = {"runs": []}
    for r in runs:
        report["runs"].append({"job": r.dagster_run.job_name, "run": r.dagster_run.run_id[:8],
                               "status": r.dagster_run.status.value, "steps": step_seconds(instance, r.dagster_run.run_id)})
    for asset in ("srl_adapter", "rlvr_adapter", "silver_adapter", "gold_adapter"):
        path = layout.adapter(asset, args.species) / "metrics.json"
        if path.is_file():
            m = json.loads(path.read_text())
            report[asset] = {k: m.get(k) for k in ("global_step", "train_seconds", "warm_started", "from_scratch_train_seconds",
                                                   "cost_vs_scratch", "sft_steps", "on_policy_steps", "kl_to_teacher_first",
                                                   "kl_to_teacher_last", "validation_kl_to_teacher_base",
                                                   "validation_kl_to_teacher_trained", "traces")}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
