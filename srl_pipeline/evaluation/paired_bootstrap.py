"""How sure the report's verdict is: a paired bootstrap over the held-out test scenarios.

Two recipes play the same test scenarios, so their difference is resampled scenario by scenario
(each scenario keeps both recipes' outcomes together), within each species, and averaged over the
species as the report's table averages them. The interval says what the choice of test scenarios
can move; it does not cover a second training run, which on the tiny tiers moves single cells by
more (bench/experiments/EXPERIMENTS.md, "Main run 8").
"""

from __future__ import annotations

import random
from typing import Any, Mapping

Results = Mapping[str, Mapping[str, Mapping[str, Any]]]   # species -> model -> metrics


def scenario_wins(metrics: Mapping[str, Any]) -> dict[str, float] | None:
    """scenario id -> 1.0 when the greedy play succeeded, 0.0 otherwise (None: no per-scenario outcomes)."""
    per_task = metrics.get("per_task")
    if not per_task:
        return None
    return {str(t["scenario_id"]): float(t.get("outcome") == "success") for t in per_task
            if t.get("scenario_id") is not None}


def paired_differences(results: Results, a: str, b: str) -> dict[str, list[float]]:
    """species -> per-scenario (a's win - b's win) on the scenarios both models played."""
    out: dict[str, list[float]] = {}
    for species, by_model in results.items():
        if a not in by_model or b not in by_model:
            continue
        wins_a, wins_b = scenario_wins(by_model[a]), scenario_wins(by_model[b])
        if wins_a is None or wins_b is None:
            continue
        shared = sorted(wins_a.keys() & wins_b.keys())
        if shared:
            out[species] = [wins_a[s] - wins_b[s] for s in shared]
    return out


def margin_interval(results: Results, a: str, b: str, *, draws: int = 2000, level: float = 0.95,
                    seed: int = 0) -> tuple[float, float] | None:
    """The ``level`` percentile interval of (a's success - b's), averaged over species, under a
    stratified paired bootstrap of the test scenarios; None when no species has both models'
    per-scenario outcomes. Seeded: the same artifacts give the same interval."""
    if draws < 1 or not 0.0 < level < 1.0:
        raise ValueError("margin_interval needs draws >= 1 and 0 < level < 1")
    diffs = paired_differences(results, a, b)
    if not diffs:
        return None
    rng = random.Random(seed)
    samples = []
    for _ in range(draws):
        total = 0.0
        for d in diffs.values():
            n = len(d)
            total += sum(d[rng.randrange(n)] for _ in range(n)) / n
        samples.append(total / len(diffs))
    samples.sort()
    tail = (1.0 - level) / 2.0
    lo = samples[int(tail * draws)]
    hi = samples[min(draws - 1, int((1.0 - tail) * draws))]
    return lo, hi
