"""The local Dagster instance (`$DAGSTER_HOME`, default `.dagster_home/`) that `srl-pipeline main`,
`make ui` and `make validate` share: its `dagster.yaml` is written here, from the profile.

- run monitoring on, with the project's launcher (`srl_pipeline.defs.run_launcher`), so the
  daemon of `make ui` fails a run whose process died (a killed `make main`) instead of leaving it
  STARTED;
- a run queue and the training pools capped at the profile's
  `training_backend.max_concurrent_jobs`, so sensors, schedules and the UI never start more
  training jobs on this machine than the profile allows.

A `dagster.yaml` someone wrote by hand is left alone; one this module wrote (or an empty one, or
the telemetry-only file older versions wrote) is rewritten when the profile changes.

    python -m srl_pipeline.cli.local_instance     # what `make ui` and `make validate` run first
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.profiles import PROJECT_ROOT, Profile, load_profile

MARKER = "# Written by srl_pipeline/cli/local_instance.py"
# What older versions wrote (or `touch` made): safe to replace.
REPLACEABLE = ("", "telemetry:\n  enabled: false\n")
DEFAULT_MAX_CONCURRENT_JOBS = 2


def local_home() -> Path:
    """$DAGSTER_HOME, defaulting (and set) to .dagster_home/ in the project."""
    return Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))


def max_concurrent_jobs(profile: Profile | None = None) -> int:
    """How many training jobs the profile lets this machine run at once."""
    section = (profile or load_profile()).section("training_backend")
    return max(1, int(section.get("max_concurrent_jobs", DEFAULT_MAX_CONCURRENT_JOBS)))


def instance_config(max_jobs: int) -> str:
    """The local instance's dagster.yaml (sqlite storage: Dagster's default)."""
    return f"""{MARKER} from the profile; edit the profile, not this file
# (delete the marker line to keep a hand-written config).
telemetry:
  enabled: false
# The project's launcher: Dagster's default one plus a health check for run monitoring.
run_launcher:
  module: srl_pipeline.defs.run_launcher
  class: LocalRunLauncher
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: {max_jobs}        # runs from the UI, sensors and schedules (training_backend.max_concurrent_jobs)
  pools:
    default_limit: {max_jobs}              # local_training, llm_endpoints: steps at once, across runs
    granularity: op
# The daemon (make ui) fails a run whose process is gone, and one stuck starting.
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  poll_interval_seconds: 30
  max_resume_run_attempts: 0
"""


def ensure_local_instance(home: Path | None = None, profile: Profile | None = None) -> Path:
    """Write (or refresh) $DAGSTER_HOME/dagster.yaml unless someone wrote their own; its path."""
    home = home or local_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else ""
    if current.startswith(MARKER) or current.strip() == "" or current in REPLACEABLE:
        wanted = instance_config(max_concurrent_jobs(profile))
        if current != wanted:
            config.write_text(wanted)
    return config


def local_instance():
    """The local DagsterInstance, its config ensured first."""
    import dagster as dg

    ensure_local_instance()
    return dg.DagsterInstance.get()


if __name__ == "__main__":
    print(ensure_local_instance())
