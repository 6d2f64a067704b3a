"""`srl-pipeline`: the command line of the project.

    srl-pipeline main      materialise every asset for every species (the embedded default)
    srl-pipeline species   list the species the lore source knows
    srl-pipeline eval      evaluate a species' model on your own scenario file (JSONL)

The main command uses a persistent Dagster instance in $DAGSTER_HOME (default .dagster_home/ in
the project), so `dagster dev` opened on the same home shows every run, asset and check.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .settings import PROJECT_ROOT


def _instance():
    import dagster as dg

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # a local sqlite instance; the deployment's is the project's dagster.yaml
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def run_main(species: list[str] | None = None) -> int:
    import dagster as dg

    from .defs.partitions import species_partitions
    from .definitions import defs

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
        print("== base models: building the tiers' base models (once; reused by later runs)")
        t0 = time.monotonic()
        built = defs.resolve_job_def("build_base_models").execute_in_process(instance=instance, raise_on_error=False)
        for e in built.all_events:
            if e.event_type_value == "ASSET_MATERIALIZATION":
                mat = e.event_specific_data.materialization
                md = {k: v.value for k, v in mat.metadata.items() if k in ("parameters", "vocabulary", "warmup_loss_last")}
                print(f"   {mat.asset_key.to_user_string():22s} {md}")
        if not built.success:
            print(f"   FAILED after {time.monotonic() - t0:.1f}s; see the run {built.run_id[:8]} in the UI", file=sys.stderr)
            return 1
        print(f"   ok in {time.monotonic() - t0:.1f}s")
    job = defs.resolve_job_def("main")
    failures = 0
    for s in targets:
        t0 = time.monotonic()
        result = job.execute_in_process(instance=instance, partition_key=s, raise_on_error=False,
                                        tags={"trigger": "srl-pipeline main"})
        mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
        checks = [e.event_specific_data for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION"]
        failed_checks = [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks
                         if not c.passed and c.severity.value == "ERROR"]
        warned = [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks
                  if not c.passed and c.severity.value != "ERROR"]
        status = "ok" if result.success and not failed_checks else "FAILED"
        failures += status != "ok"
        print(f"\n== {s}: {status} in {time.monotonic() - t0:.1f}s (run {result.run_id[:8]})")
        for m in mats:
            mat = m.event_specific_data.materialization
            md = {k: v.value for k, v in mat.metadata.items() if k in (
                "passages", "documents", "rules_version", "actions", "scenarios", "splits", "accepted",
                "acceptance_rate", "cache_hits", "examples", "validation_reward_base", "validation_reward_trained",
                "kl_max", "filter_rate", "global_step", "train_seconds")}
            print(f"   {mat.asset_key.to_user_string():22s} {md}")
        print(f"   checks: {len(checks) - len(failed_checks) - len(warned)}/{len(checks)} passed" +
              (f"; failed: {failed_checks}" if failed_checks else "") +
              (f"; failed with severity WARN (reported, not blocking): {warned}" if warned else ""))
        for e in result.all_events:
            if e.event_type_value == "STEP_FAILURE":
                print(f"   step failed: {e.step_key}: {e.event_specific_data.error.message.strip()[:600]}")
    print(f"\n{len(targets) - failures}/{len(targets)} species succeeded in {time.monotonic() - started:.1f}s.")
    print(f"Artifacts: {defs.resources['artifacts'].base_dir}")
    print(f"Open the Dagster UI on these runs:  DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
          f".venv/bin/dagster dev -w workspace.yaml   (or: make ui)  then http://127.0.0.1:3000")
    return 1 if failures else 0


def _base_models_ready(defs) -> bool:
    """Built-in base models are built once; hub ids and paths need no build."""
    from pathlib import Path

    from .defs.training_assets import TIERS, base_model_location

    training = defs.resources["training"]
    return all(training.base_models.get(t, "builtin") != "builtin"
               or (Path(base_model_location(training, t)) / "config.json").is_file() for t in TIERS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="srl-pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("main", help="materialise every asset for every species")
    m.add_argument("--species", nargs="*", help="only these species (default: all)")
    sub.add_parser("species", help="list the species the lore source knows")
    from .eval_command import add_arguments as add_eval_arguments

    e = sub.add_parser("eval", help="evaluate a species' model on your own scenario file (JSONL)")
    add_eval_arguments(e)
    args = ap.parse_args(argv)
    if args.command == "main":
        return run_main(args.species)
    if args.command == "eval":
        from .eval_command import run_eval

        return run_eval(args)
    from .definitions import defs

    print("\n".join(defs.resources["game_data"].lore_source().list_species()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
