"""The run launcher of the local instance and of the deployment: Dagster's default launcher, plus a
health check so the daemon's run monitoring fails a run whose process died.

Dagster's `DefaultRunLauncher` cannot say whether a run worker is alive, so run monitoring never
looks at a STARTED run again: a `make main` killed mid-run (or a crashed run worker) leaves runs
"STARTED" forever. Every run records its host (tag `srl/worker_host`) and its process id (the
`pid` of Dagster's "Started process for run" / "Executing steps in process" engine events); the
check says FAILED when that process is gone from this host, RUNNING when it cannot tell (another
host, no pid yet), so monitoring never fails a run it cannot see.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus

HOST_TAG = "srl/worker_host"


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int, not_before: float | None = None) -> bool:
    """Whether process ``pid`` runs on this host (not a zombie, and, when ``not_before`` is given
    and /proc can tell, started no later than that time: a reused pid is another process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    stat = f"/proc/{pid}/stat"
    if not os.path.exists(stat):
        return True
    try:
        with open(stat) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        if not_before is not None:
            with open("/proc/stat") as f:
                boot = next(float(line.split()[1]) for line in f if line.startswith("btime"))
            started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
            return started <= not_before + 1.0
    except (OSError, ValueError, IndexError, StopIteration):
        return True
    return True


def run_worker_pid(instance: Any, run_id: str) -> tuple[int | None, float | None]:
    """The pid of the run's newest engine event that names one, and that event's time."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, ascending=False).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = (getattr(data, "metadata", None) or {}).get("pid")
        if pid is not None:
            try:
                return int(pid.value), record.event_log_entry.timestamp
            except (TypeError, ValueError):
                continue
    return None, None


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose runs the daemon's run monitoring can check."""

    def launch_run(self, context: LaunchRunContext) -> None:
        self._instance.add_run_tags(context.dagster_run.run_id, {HOST_TAG: this_host()})
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: Any) -> CheckRunHealthResult:
        host = run.tags.get(HOST_TAG)
        if host != this_host():
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker on host {host!r}: not checked from here")
        pid, seen_at = run_worker_pid(self._instance, run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker pid recorded yet")
        if process_alive(pid, not_before=seen_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} on {host} is gone "
                                    "(killed or crashed); rerun the job to resume from its checkpoints")
