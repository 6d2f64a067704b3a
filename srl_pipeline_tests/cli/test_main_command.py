"""`srl-pipeline main`'s console: every log line of a run names its species, at INFO; DEBUG
events only with --verbose ($SRL_VERBOSE)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from srl_pipeline.cli import main as cli_main
from srl_pipeline.core.profiles import PROJECT_ROOT

# A run of the tiny location's job the way `srl-pipeline main` runs one (its console config).
RUN = """
import sys
from pathlib import Path
from srl_pipeline.cli import quiet_console
from srl_pipeline.cli.job_runs import execute_job_run
from srl_pipeline.cli.local_instance import local_instance
from srl_pipeline.cli.main_command import console_config
quiet_console(False)
instance = local_instance()
instance.add_dynamic_partitions("species", ["werewolf"])
result = execute_job_run(instance, "main", partition_key="werewolf", run_config=console_config("werewolf"),
                         workspace_file=Path(sys.argv[1]))
print("events:", len(result.all_events), "success:", result.success)
"""


def _console(tmp_path: Path, workspace: Path, verbose: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SRL_VERBOSE"}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "DAGSTER_HOME": str(tmp_path / ("loud" if verbose else "quiet")),
                "OMP_NUM_THREADS": "1", **({"SRL_VERBOSE": "1"} if verbose else {})})
    out = subprocess.run([sys.executable, "-c", RUN, str(workspace)], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "success: True" in out.stdout, out.stderr[-3000:]
    return out.stderr


def test_run_log_lines_name_the_species_and_debug_only_when_verbose(tmp_path, tiny_workspace):
    quiet = [line for line in _console(tmp_path, tiny_workspace, verbose=False).splitlines() if " - " in line]
    assert any(line.endswith("greeting - hello werewolf") for line in quiet), quiet
    assert all(" - werewolf - INFO - main - " in line for line in quiet), quiet
    loud = [line for line in _console(tmp_path, tiny_workspace, verbose=True).splitlines() if " - " in line]
    assert any(" - werewolf - DEBUG - main - " in line and "STEP_START" in line for line in loud), loud


def test_verbose_is_an_option_of_main(capsys):
    try:
        cli_main(["main", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "--verbose" in capsys.readouterr().out
