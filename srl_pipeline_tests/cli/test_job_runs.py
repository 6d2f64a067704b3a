"""Runs started by `srl-pipeline main` are runs of the code location's jobs: the UI's job page
(which filters runs by job name and repository label) lists them, and their job snapshot is the
code location's, so "Re-execute" does not call the job a different version."""

from __future__ import annotations

import tomllib

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from srl_pipeline.cli.job_runs import execute_job_run, workspace_location
from srl_pipeline.cli.local_instance import local_instance
from srl_pipeline.core.profiles import PROJECT_ROOT


def test_a_run_belongs_to_the_job_the_workspace_serves(dagster_home, tiny_workspace):
    instance = local_instance()
    instance.add_dynamic_partitions("species", ["vampire"])
    result = execute_job_run(instance, "main", partition_key="vampire", tags={"species": "vampire"},
                             workspace_file=tiny_workspace)
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run.tags["species"] == "vampire" and run.tags["dagster/partition"] == "vampire"

    # What the webserver sees: the workspace loaded in a code server, as `make ui` loads it.
    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(tiny_workspace)])) as process:
        remote_job = (process.create_request_context().get_code_location("tiny")
                      .get_repository("__repository__").get_full_job("main"))
    label = remote_job.get_remote_origin().repository_origin.get_label()
    job_page_runs = instance.get_runs(dg.RunsFilter(job_name="main", tags={REPOSITORY_LABEL_TAG: label}))
    assert [r.run_id for r in job_page_runs] == [result.run_id]
    assert run.job_snapshot_id == remote_job.identifying_job_snapshot_id


def test_the_project_workspace_names_the_code_location_of_pyproject():
    module, location, workdir = workspace_location()
    tool = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
    assert (module, location) == (tool["module_name"], tool["code_location_name"])
    assert workdir == str(PROJECT_ROOT)
