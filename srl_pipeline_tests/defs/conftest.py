"""Fixtures for the Dagster layer: a private copy of the game data, resources and a runner."""

import copy
import shutil
from pathlib import Path

import dagster as dg
import pytest

from srl_pipeline.definitions import build_definitions, build_resources
from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.defs.game.resources import GameDataResource
from srl_pipeline.core.profiles import PROJECT_ROOT, Profile, load_profile

GAME_SRC = PROJECT_ROOT / "configs" / "game"


@pytest.fixture
def game_root(tmp_path: Path) -> Path:
    root = tmp_path / "game"
    shutil.copytree(GAME_SRC, root)
    return root


def make_resources(game_root: Path, artifacts: Path, store: dict | None = None, **game_overrides) -> dict:
    """The test profile's resources with everything written under `artifacts` (a tmp dir):
    no test shares artifacts, trajectory caches or models with another. ``store``: the profile's
    artifact store keys (store_uri, store_endpoint_url)."""
    data = copy.deepcopy(load_profile("test").data)
    data.setdefault("artifacts", {})["base_dir"] = str(artifacts)
    data["artifacts"].update(store or {})
    data.setdefault("collaboration", {})["cache_dir"] = str(artifacts.parent / "trajectory_cache")
    resources = build_resources(Profile("test", data))
    resources["game_data"] = GameDataResource(root=str(game_root), **game_overrides)
    return resources


class Runner:
    """Runs the main job for one species on an ephemeral instance and summarises the run."""

    def __init__(self, resources: dict, instance: dg.DagsterInstance | None = None):
        self.defs = build_definitions(resources=resources)
        self.instance = instance or dg.DagsterInstance.ephemeral()

    def run(self, species: str, job: str = "data") -> dg.ExecuteInProcessResult:
        if species not in self.instance.get_dynamic_partitions(species_partitions.name):
            self.instance.add_dynamic_partitions(species_partitions.name, [species])
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=species, raise_on_error=False)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.event_specific_data.materialization.asset_key.to_user_string()
            for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.event_specific_data.check_name: e.event_specific_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    out = []
    for e in result.all_events:
        if e.event_type_value == "STEP_FAILURE":
            err = e.event_specific_data.error
            while err is not None:
                out.append(err.message)
                err = err.cause
    return "\n".join(out)


@pytest.fixture
def runner(game_root: Path, tmp_path: Path) -> Runner:
    return Runner(make_resources(game_root, tmp_path / "artifacts"))


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Base models, then the main job (lore -> ... -> Bronze -> Silver -> Gold -> evaluation ->
    registration), the experiments job and the report, for zombie, on an on-disk instance; shared
    read-only by the training, distillation and registry tests (a test that changes things copies it)."""
    tmp = tmp_path_factory.mktemp("training")
    import shutil

    game = tmp / "game"
    shutil.copytree(GAME_SRC, game)
    home = tmp / "dagster_home"   # on disk, so the browser check's webserver reads the same runs
    home.mkdir()
    runner = Runner(make_resources(game, tmp / "artifacts"), dg.DagsterInstance.local_temp(str(home)))
    base = runner.defs.resolve_job_def("build_base_models").execute_in_process(instance=runner.instance, raise_on_error=False)
    result = runner.run("zombie", job="main")
    experiments = runner.run("zombie", job="experiments")
    report = runner.defs.resolve_job_def("report").execute_in_process(instance=runner.instance,
                                                                                 raise_on_error=False)
    return runner, base, result, tmp / "artifacts", experiments, report
