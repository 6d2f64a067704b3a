"""Runs of the code location's jobs, executed in this process.

`execute_in_process` makes runs that belong to no code location: the UI's job pages, the
timeline and "Re-execute" do not see them. Here a run is created the way `dagster job launch`
creates one (with the code location's `RemoteJobOrigin`, so it carries the repository label the
UI filters a job's runs by, and the job's own snapshot), then executed synchronously here with
the in-process executor (chosen through run config, so the job's snapshot is unchanged).
The code location is the one `workspace.yaml` declares: the same one `make ui` loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core.profiles import PROJECT_ROOT
from ..core.yaml_files import read_yaml

WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
# Runs of `srl-pipeline main` execute their steps one after another in the calling process: no
# process (and no torch import) per step; the job's default executor stays what the UI uses.
IN_PROCESS_CONFIG = PROJECT_ROOT / "configs" / "dagster" / "in_process.yaml"


@lru_cache(maxsize=1)
def workspace_location(workspace_file: Path = WORKSPACE_FILE) -> tuple[str, str, str]:
    """(module name, location name, working directory) of the workspace's one python_module entry."""
    entries = read_yaml(workspace_file).get("load_from") or []
    modules = [e["python_module"] for e in entries if isinstance(e, dict) and "python_module" in e]
    if len(modules) != 1:
        raise ValueError(f"{workspace_file}: expected one python_module under load_from, found {len(modules)}")
    entry = modules[0]
    module = entry if isinstance(entry, str) else entry["module_name"]
    name = module if isinstance(entry, str) else entry.get("location_name", module)
    workdir = "." if isinstance(entry, str) else entry.get("working_directory", ".")
    return module, name, str((workspace_file.parent / workdir).resolve())


def repository_origins(workspace_file: Path = WORKSPACE_FILE) -> tuple[Any, Any]:
    """The code location's (ReconstructableRepository, RemoteRepositoryOrigin)."""
    import sys

    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    module, location, workdir = workspace_location(workspace_file)
    recon_repo = ReconstructableRepository.for_module(module, "defs", working_directory=workdir)
    code_location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=module, working_directory=workdir),
        location_name=location)
    return recon_repo, RemoteRepositoryOrigin(code_location, SINGLETON_REPOSITORY_NAME)


def repository_label(workspace_file: Path = WORKSPACE_FILE) -> str:
    """The label the UI filters a job's runs by (``<repository>@<location>``)."""
    return repository_origins(workspace_file)[1].get_label()


def execute_job_run(instance: Any, job_name: str, *, partition_key: str | None = None,
                    tags: Mapping[str, str] | None = None, run_config: Mapping[str, Any] | None = None,
                    workspace_file: Path = WORKSPACE_FILE) -> Any:
    """Create a run of the code location's job ``job_name`` and execute it here; the JobExecutionResult."""
    from dagster._core.execution.api import create_execution_plan, execute_run
    from dagster._utils.merger import merge_dicts

    from ..defs.run_launcher import HOST_TAG, this_host

    recon_repo, repo_origin = repository_origins(workspace_file)
    recon_job = recon_repo.get_reconstructable_job(job_name)
    job_def = recon_job.get_definition()
    run_tags = dict(job_def.tags or {})
    if partition_key is not None:
        run_tags.update(job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=None))
    run_tags.update(tags or {})
    run_tags[HOST_TAG] = this_host()  # run monitoring checks this process while the run is STARTED
    config = merge_dicts(read_yaml(IN_PROCESS_CONFIG), dict(run_config or {}))
    ref = instance.get_ref() if instance.is_persistent else None
    plan = create_execution_plan(recon_job, run_config=config, instance_ref=ref, tags=run_tags)
    run = instance.create_run_for_job(
        job_def=job_def, execution_plan=plan, run_config=config, tags=run_tags,
        remote_job_origin=repo_origin.get_job_origin(job_name), job_code_origin=recon_job.get_python_origin())
    return execute_run(recon_job, run, instance, raise_on_error=False)
