"""The shape of the asset graph as plain data: asset keys, their dependencies, group, partitioning,
check keys (with blocking) and every job's selection. `test_graph_snapshot.py` compares it with
`graph_snapshot.json`; regenerate that file on purpose with
`python -m srl_pipeline_tests.defs.graph_snapshot > srl_pipeline_tests/defs/graph_snapshot.json`.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg


def graph_shape(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "partitioned": node.partitions_def is not None,
        }
    checks = {}
    for spec in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        check = graph.get(spec)
        checks[f"{spec.asset_key.to_user_string()}:{spec.name}"] = {"blocking": bool(check.blocking)}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        selected = job.asset_layer.selected_asset_keys if job.asset_layer else set()
        jobs[job.name] = sorted(k.to_user_string() for k in selected)
    return {"assets": assets, "checks": checks, "jobs": jobs,
            "sensors": sorted(s.name for s in defs.sensors or []),
            "schedules": sorted(s.name for s in defs.schedules or [])}


if __name__ == "__main__":
    from srl_pipeline.definitions import defs

    print(json.dumps(graph_shape(defs), indent=1, sort_keys=True))
