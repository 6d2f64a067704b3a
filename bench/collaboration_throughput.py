"""Collaboration benchmark: 200 trajectories against a loopback OpenAI-compatible server with
100 ms latency per call.

Prints, measured in the same run:
  - the speed-up of concurrency 16 over sequential (target >= 10x),
  - lost items with 10% of requests failing (HTTP 500, retried): target 0,
  - calls made by a rerun with unchanged inputs (content cache): target 0.

    python bench/collaboration_throughput.py [--n 200] [--latency 0.1] [--species vampire]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srl_pipeline.collaboration.cache import TrajectoryCache  # noqa: E402
from srl_pipeline.collaboration.factory import build_collaboration  # noqa: E402
from srl_pipeline.collaboration.settings import CollaborationSettings, RoleSettings  # noqa: E402
from srl_pipeline_tests.collaboration.chat_server import ChatServer, server_error  # noqa: E402
from srl_pipeline_tests.collaboration.helpers import jobs_for, species_context  # noqa: E402
from srl_pipeline_tests.collaboration.scripted_team import ScriptedTeam  # noqa: E402


def settings(url: str, concurrency: int) -> CollaborationSettings:
    role = RoleSettings(backend="openai", base_url=url, model="bench", timeout_s=5, max_retries=4,
                        backoff_base_s=0.05, backoff_max_s=0.2, max_concurrency=concurrency)
    return CollaborationSettings(planner=role, verifier=role, max_concurrency=concurrency)


def run(jobs, url: str, concurrency: int, cache: TrajectoryCache | None = None):
    collab = build_collaboration(settings(url, concurrency), cache, api_keys={"planner": "bench", "verifier": "bench"})
    t0 = time.perf_counter()
    results = collab.orchestrator.run(jobs)
    seconds = time.perf_counter() - t0
    collab.close()
    return results, seconds, collab.meter.snapshot()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--species", default="vampire")
    ap.add_argument("--error-rate", type=float, default=0.1)
    args = ap.parse_args()
    jobs = jobs_for(species_context(args.species), args.n)
    print(f"{len(jobs)} trajectories ({args.species}), {args.latency * 1000:.0f} ms per call")

    with ChatServer(ScriptedTeam(jobs, delay_s=args.latency)) as server:
        seq, t_seq, _ = run(jobs, server.base_url, 1)
        conc, t_conc, _ = run(jobs, server.base_url, 16)
    speedup = t_seq / t_conc
    print(f"sequential:     {t_seq:7.2f} s  ({sum(r.accepted for r in seq)}/{len(seq)} accepted)")
    print(f"concurrency 16: {t_conc:7.2f} s  ({sum(r.accepted for r in conc)}/{len(conc)} accepted)")
    print(f"speed-up: {speedup:.1f}x (target >= 10x)")

    rng, lock = random.Random(7), threading.Lock()

    def flaky(kind, text, index):
        with lock:
            return server_error(500) if rng.random() < args.error_rate else None

    with tempfile.TemporaryDirectory() as tmp, ChatServer(ScriptedTeam(jobs, flaky, delay_s=args.latency)) as server:
        cache = TrajectoryCache(Path(tmp))
        faulty, t_faulty, usage = run(jobs, server.base_url, 16, cache)
        ids = [r.scenario_id for r in faulty]
        lost = len(jobs) - len(set(ids))
        duplicated = len(ids) - len(set(ids))
        errors = sum(u["by_error_kind"].get("server_error", 0) for u in usage.values())
        calls_before = len(server.calls)
        rerun, t_rerun, _ = run(jobs, server.base_url, 16, cache)
        rerun_calls = len(server.calls) - calls_before
    print(f"with {args.error_rate:.0%} injected 500s: {errors} errors retried, {lost} lost, {duplicated} duplicated, "
          f"{sum(r.accepted for r in faulty)}/{len(faulty)} accepted in {t_faulty:.2f} s")
    print(f"rerun with unchanged inputs: {rerun_calls} calls, {sum(r.cache_hit for r in rerun)}/{len(rerun)} cache hits "
          f"in {t_rerun:.2f} s")
    ok = speedup >= 10 and lost == 0 and duplicated == 0 and rerun_calls == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
