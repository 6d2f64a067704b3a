"""The local instance's dagster.yaml (what `srl-pipeline main`, `make ui` and `make validate` use):
run monitoring on, a run launcher that can check its workers, and runs and training pools capped
at the profile's `training_backend.max_concurrent_jobs`."""

from __future__ import annotations

import copy
import subprocess
import sys

import dagster as dg

from srl_pipeline.cli.local_instance import MARKER, ensure_local_instance, max_concurrent_jobs
from srl_pipeline.core.profiles import PROJECT_ROOT, Profile, load_profile


def _profile(jobs: int) -> Profile:
    data = copy.deepcopy(load_profile("local").data)
    data["training_backend"]["max_concurrent_jobs"] = jobs
    return Profile("local", data)


def test_the_instance_monitors_runs_and_caps_them_at_the_profile(tmp_path):
    config = ensure_local_instance(tmp_path / "home", _profile(3))
    with dg.DagsterInstance.from_config(str(config.parent)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_launcher.supports_check_run_worker_health
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 3
        assert concurrency.pool_config.pool_granularity.value == "op"   # enforced step by step, in every run
        assert concurrency.run_queue_config.max_concurrent_runs == 3
        assert instance.event_log_storage.supports_global_concurrency_limits


def test_the_local_profile_allows_two_training_jobs():
    assert max_concurrent_jobs(load_profile("local")) == 2


def test_old_and_generated_configs_are_refreshed_hand_written_ones_kept(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")   # what older versions wrote
    ensure_local_instance(home, _profile(2))
    assert (home / "dagster.yaml").read_text().startswith(MARKER)
    ensure_local_instance(home, _profile(4))
    assert "max_concurrent_runs: 4" in (home / "dagster.yaml").read_text()

    own = "telemetry:\n  enabled: false\nrun_monitoring:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(own)
    ensure_local_instance(home, _profile(2))
    assert (home / "dagster.yaml").read_text() == own


def test_the_module_writes_the_config_make_ui_uses(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path / "home"), "PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "srl_pipeline.cli.local_instance"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "home" / "dagster.yaml").read_text().startswith(MARKER)
    assert "srl_pipeline.cli.local_instance" in (PROJECT_ROOT / "Makefile").read_text()
