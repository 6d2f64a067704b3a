"""Wall seconds of every Dagster step of every run on an instance, summed by step (a main run's
breakdown): `DAGSTER_HOME=<main run>/.dagster_home python bench/experiments/step_seconds.py`."""
from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cascade_timing import step_seconds  # noqa: E402


def main() -> int:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    total: collections.Counter = collections.Counter()
    for run in instance.get_runs():
        total.update(step_seconds(instance, run.run_id))
    for step, seconds in total.most_common():
        if seconds >= 1.0:
            print(f"{step:40s} {seconds:8.1f}")
    print(f"{'all steps':40s} {sum(total.values()):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
