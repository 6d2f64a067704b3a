"""Run monitoring with the project's launcher: a run whose process is killed mid-step is failed by
the daemon's monitoring check instead of staying STARTED; a live one is left alone."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.launcher.base import WorkerStatus
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from srl_pipeline.cli.local_instance import ensure_local_instance, local_instance
from srl_pipeline.core.profiles import PROJECT_ROOT
from srl_pipeline.defs.run_launcher import HOST_TAG, process_alive, run_worker_pid

# `srl-pipeline main`'s way of running a job, in a process this test kills.
RUN_SLOW_JOB = """
import sys
from pathlib import Path
from srl_pipeline.cli.job_runs import execute_job_run
from srl_pipeline.cli.local_instance import local_instance
execute_job_run(local_instance(), "slow", workspace_file=Path(sys.argv[1]))
"""


def _tiny_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace.yaml"
    ws.write_text("load_from:\n  - python_module:\n      module_name: srl_pipeline_tests.cli.tiny_location\n"
                  f"      location_name: tiny\n      working_directory: {PROJECT_ROOT}\n")
    return ws


def _started_run(instance: dg.DagsterInstance, deadline: float):
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(job_name="slow", statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and run_worker_pid(instance, runs[0].run_id)[0] is not None:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the run never started")


def test_monitoring_fails_a_run_whose_process_was_killed(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ensure_local_instance(home)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", RUN_SLOW_JOB, str(_tiny_workspace(tmp_path))], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        instance = local_instance()
        run = _started_run(instance, time.monotonic() + 120)
        assert run.tags[HOST_TAG] and run_worker_pid(instance, run.run_id)[0] == proc.pid
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED   # alive: left alone
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_pid_reused_by_a_later_process_is_not_the_run_worker():
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), not_before=time.time() - 10 ** 6)   # "started after the event"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert not process_alive(child.pid)
