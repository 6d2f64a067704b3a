"""`srl-pipeline main`: base models once, then per species the production job and the
experiments job, two at a time, then the report and the paper-style table.

It uses a persistent Dagster instance in $DAGSTER_HOME (default .dagster_home/ in the project), so
`dagster dev` opened on the same home shows every run, asset and check.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..core.allocator import allocator_env
from ..core.console import is_verbose
from .job_runs import execute_job_run


def _instance():
    from .local_instance import local_instance

    return local_instance()


def console_config(name: str) -> dict:
    """Run config for a run started here: the console logger names the species (or the job) on
    every line, at INFO (DEBUG with --verbose); the full DEBUG stream stays in the UI."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if is_verbose() else "INFO", "name": name}}}}


SUMMARY_KEYS = ("passages", "documents", "rules_version", "actions", "scenarios", "splits", "accepted",
                "acceptance_rate", "cache_hits", "examples", "validation_reward_base", "validation_reward_trained",
                "validation_success_reference", "validation_success_trained", "kl_max", "filter_rate", "global_step",
                "train_seconds", "test_tasks", "loss_last", "plays", "kept_plays", "stale_teacher", "warm_started",
                "kl_to_teacher_last", "search_successes", "wins_buffer", "cost_vs_scratch", "bronze/production_version",
                "silver/production_version", "gold/production_version")


def run_main(species: list[str] | None = None, parallel: int | None = None, experiments: bool = True) -> int:
    """Base models once, then per species the production job (lore -> ... -> RLVR -> evaluation)
    and then its experiments job (SFT, RLVR-only), ``parallel`` jobs at a time, then the report."""
    import dagster as dg

    from ..defs.partitions import species_partitions
    from ..definitions import defs

    # Processes started from here on (the base models' builders, the job workers, the training
    # jobs) keep freed memory: glibc reads these settings at start (core/allocator.py).
    os.environ.update(allocator_env(os.environ))
    instance = _instance()
    game_data = defs.resources["game_data"]
    known = game_data.lore_source().list_species()
    targets = species or known
    unknown = sorted(set(targets) - set(known))
    if unknown:
        print(f"unknown species {unknown}; the lore source has {known}", file=sys.stderr)
        return 2
    for problem in game_data.files().invalid_species():
        print(f"ignored: {problem}", file=sys.stderr)
    existing = set(instance.get_dynamic_partitions(species_partitions.name))
    instance.add_dynamic_partitions(species_partitions.name, [s for s in targets if s not in existing])
    started = time.monotonic()
    if not _base_models_ready(defs):
        print("== base models: building the tiers' base models (once; reused by later runs)", flush=True)
        t0 = time.monotonic()
        built = execute_job_run(instance, "build_base_models", tags={"trigger": "srl-pipeline main"},
                                run_config=console_config("base models"))
        for e in built.all_events:
            if e.event_type_value == "ASSET_MATERIALIZATION":
                mat = e.event_specific_data.materialization
                md = {k: v.value for k, v in mat.metadata.items() if k in ("parameters", "vocabulary", "warmup_loss_last")}
                print(f"   {mat.asset_key.to_user_string():22s} {md}")
        if not built.success:
            print(f"   FAILED after {time.monotonic() - t0:.1f}s; see the run {built.run_id[:8]} in the UI", file=sys.stderr)
            return 1
        print(f"   ok in {time.monotonic() - t0:.1f}s", flush=True)

    jobs = ("main", "experiments") if experiments else ("main",)
    from .local_instance import max_concurrent_jobs

    parallel = max(1, min(parallel or int(os.environ.get("SRL_PARALLEL_SPECIES") or max_concurrent_jobs()), len(targets)))
    print(f"== {len(targets)} species x jobs {', '.join(jobs)}; {parallel} jobs at a time", flush=True)
    failures = 0
    if parallel == 1:
        for s in targets:
            for job in jobs:
                ok, text = _run_job(s, job)
                failures += not ok
                print(text, flush=True)
                if not ok:
                    break
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        # Jobs, not species, are the unit of work: a species' experiments job is queued as soon as
        # its main job is done, so the workers stay busy until the last job. Each training
        # subprocess runs on one thread: on a small machine two tiny-model jobs side by side beat
        # one job on two threads.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=parallel, mp_context=ctx, initializer=_single_threaded) as pool:
            pending = {pool.submit(_run_job, s, jobs[0]): (s, 0) for s in targets}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    s, i = pending.pop(future)
                    ok, text = future.result()
                    failures += not ok
                    print(text, flush=True)
                    if ok and i + 1 < len(jobs):
                        pending[pool.submit(_run_job, s, jobs[i + 1])] = (s, i + 1)

    print_tier_table(defs, targets)
    if experiments:
        report = execute_job_run(instance, "report", tags={"trigger": "srl-pipeline main"},
                                 run_config=console_config("report"))
        if report.success:
            from ..core.catalogue import table_columns
            from ..evaluation.report import collect_results, results_table, verdict

            layout = defs.resources["training"].layout()
            print(f"\n== SRL -> RLVR vs the paper's baselines: full-plan success on held-out scenarios (greedy, %)\n")
            results = collect_results(layout.root)
            print(results_table(results, list(table_columns())))
            print(f"\n{verdict(results)}")
            print(f"\n== The same on the hand-written encounters (configs/eval/), greedy, %\n")
            print(results_table(results, list(table_columns()), "handwritten_success_greedy"))
            print(f"Report with every metric, plots and weakness reports: {layout.report_dir() / 'report.md'}")
        else:
            failures += 1
            print(f"\n== report FAILED (run {report.run_id[:8]})", file=sys.stderr)
    print(f"\n{len(targets) - min(failures, len(targets))}/{len(targets)} species succeeded in "
          f"{time.monotonic() - started:.1f}s.")
    print(f"Artifacts: {defs.resources['artifacts'].base_dir}")
    print(f"Open the Dagster UI on these runs:  DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
          f".venv/bin/dagster dev -w workspace.yaml   (or: make ui)  then http://127.0.0.1:3000")
    return 1 if failures else 0


def print_tier_table(defs, targets: list[str]) -> None:
    """The cascade's tiers side by side for the species just run (from their model_evaluation)."""
    import json

    from ..core.catalogue import TIER_MODELS
    from ..evaluation.report import tier_table

    layout = defs.resources["training"].layout()
    results = {}
    for s in targets:
        path = layout.data("model_evaluation", species=s)
        if path.is_file():
            results[s] = json.loads(path.read_text(encoding="utf-8"))["models"]
    if results:
        print("\n== The tiers (held-out test split, greedy): Bronze (SRL -> RLVR) -> Silver -> Gold\n")
        print(tier_table(results, TIER_MODELS))
        print("Registered versions: .venv/bin/srl-pipeline registry list")


def _single_threaded() -> None:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # inherited by training subprocesses
    import torch

    torch.set_num_threads(1)


def _run_job(species: str, name: str) -> tuple[bool, str]:
    """Run one job for one species on the persistent instance; (success, printable summary)."""
    from . import quiet_console

    quiet_console(False)  # a spawned worker starts with Python's default warning filters ($SRL_VERBOSE is inherited)
    instance = _instance()
    print(f"-- {species} / {name}: started", flush=True)
    t0 = time.monotonic()
    result = execute_job_run(instance, name, partition_key=species, run_config=console_config(species),
                             tags={"trigger": "srl-pipeline main", "species": species})
    mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks
              if not c.passed and c.severity.value == "ERROR"]
    warned = [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks
              if not c.passed and c.severity.value != "ERROR"]
    ok = result.success and not failed
    out = [f"\n== {species} / {name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - t0:.1f}s "
           f"(run {result.run_id[:8]})"]
    for m in mats:
        mat = m.event_specific_data.materialization
        md = {k: v.value for k, v in mat.metadata.items() if k in SUMMARY_KEYS}
        md.update({k: round(v.value, 3) for k, v in mat.metadata.items()
                   if k.endswith("/success_greedy") and isinstance(v.value, float)})
        out.append(f"   {mat.asset_key.to_user_string():22s} {md}")
    out.append(f"   checks: {len(checks) - len(failed) - len(warned)}/{len(checks)} passed" +
               (f"; failed: {failed}" if failed else "") +
               (f"; failed with severity WARN (reported, not blocking): {warned}" if warned else ""))
    for e in result.all_events:
        if e.event_type_value == "STEP_FAILURE":
            out.append(f"   step failed: {e.step_key}: {e.event_specific_data.error.message.strip()[:600]}")
    return ok, "\n".join(out)


def _base_models_ready(defs) -> bool:
    """Built-in base models are built once; hub ids and paths need no build."""
    from ..core.catalogue import tier_names
    from ..core.layout import BUILTIN

    training = defs.resources["training"]
    return all(training.base_models.get(t, BUILTIN) != BUILTIN
               or (Path(training.base_model(t)) / "config.json").is_file() for t in tier_names())
