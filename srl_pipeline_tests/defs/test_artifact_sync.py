"""Artifacts on S3 (moto on loopback): one machine materialises the data and the base models with
an artifact store configured; a second machine, with an empty artifacts folder, trains srl_adapter
from what the store holds and publishes it; a third reads a JSON artifact through the IO manager."""

from __future__ import annotations

import json
import shutil

import boto3
import dagster as dg
import pytest

from srl_pipeline.core.artifact_store import ArtifactStore
from srl_pipeline.core.hashing import folder_hash
from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.defs.training.backends.local import LocalTrainingBackend
from srl_pipeline.definitions import build_definitions
from srl_pipeline_tests.defs.conftest import GAME_SRC, failure_messages, make_resources, materialized
from srl_pipeline_tests.sagemaker_emulator import REGION

SPECIES = "zombie"
SRL_ONLY = dg.define_asset_job("srl_only", selection=dg.AssetSelection.assets("srl_adapter").without_checks(),
                               partitions_def=species_partitions)
LORE_INDEX = dg.define_asset_job("lore_index_only", selection=dg.AssetSelection.assets("lore_index").without_checks(),
                                 partitions_def=species_partitions)


class Machine:
    """A deployment's worker: its own artifacts folder and instance, the shared store."""

    def __init__(self, tmp, name, store, **resources):
        game = tmp / f"game-{name}"
        if not game.exists():
            shutil.copytree(GAME_SRC, game)
        self.artifacts = tmp / name / "artifacts"
        self.defs = dg.Definitions.merge(
            build_definitions(resources={**make_resources(game, self.artifacts, store), **resources}),
            dg.Definitions(jobs=[SRL_ONLY, LORE_INDEX]))
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(species_partitions.name, [SPECIES])

    def run(self, job: str, partitioned: bool = True) -> dg.ExecuteInProcessResult:
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=SPECIES if partitioned else None, raise_on_error=False)


@pytest.fixture(scope="module")
def machines(tmp_path_factory, aws):
    tmp = tmp_path_factory.mktemp("artifact_sync")
    store = {"store_uri": "s3://srl-test/deployment/artifacts", "store_endpoint_url": aws.endpoint}
    first = Machine(tmp, "first", store)
    base, data = first.run("build_base_models", partitioned=False), first.run("data")
    second = Machine(tmp, "second", store)
    srl = second.run("srl_only")
    third = Machine(tmp, "third", store)
    lore_index = third.run("lore_index_only")
    return dict(first=first, second=second, third=third, base=base, data=data, srl=srl, lore_index=lore_index,
                store=ArtifactStore(store["store_uri"], {"endpoint_url": aws.endpoint}), endpoint=aws.endpoint,
                tmp=tmp, settings=store)


class _JobDies(LocalTrainingBackend):
    def run(self, context, spec):
        raise RuntimeError("simulated failure: the training job died")


def test_the_first_machine_publishes_its_json_artifacts_and_base_models(machines):
    assert machines["base"].success and machines["data"].success, failure_messages(machines["data"])
    store, artifacts = machines["store"], machines["first"].artifacts
    for asset in ("monster_lore", "game_rules", "scenarios", "expert_trajectories", "srl_dataset"):
        assert store.read_bytes(store.uri(asset, f"{SPECIES}.json")) == (artifacts / asset / f"{SPECIES}.json").read_bytes()
    pointer = store.current("base_models", "bronze")
    assert set(pointer["files"]) == {p.name for p in (artifacts / "base_models" / "bronze").iterdir() if p.is_file()}
    metadata = machines["first"].instance.get_latest_materialization_event(
        dg.AssetKey("srl_dataset")).asset_materialization.metadata
    assert metadata["artifact_uri"].value == f"s3://srl-test/deployment/artifacts/srl_dataset/{SPECIES}.json"


def test_a_machine_with_an_empty_folder_trains_on_what_the_store_holds(machines):
    result, first, second = machines["srl"], machines["first"].artifacts, machines["second"].artifacts
    assert result.success, failure_messages(result)
    assert materialized(result) == {"srl_adapter"}
    assert (second / "srl_dataset" / f"{SPECIES}.json").read_bytes() == (first / "srl_dataset" / f"{SPECIES}.json").read_bytes()
    assert folder_hash(second / "base_models" / "bronze") == folder_hash(first / "base_models" / "bronze")
    assert not (second / "monster_lore").exists()   # only what srl_adapter reads was fetched


def test_the_trained_adapter_is_published_whole_and_named_in_its_metadata(machines, tmp_path):
    store, second = machines["store"], machines["second"].artifacts
    metadata = machines["second"].instance.get_latest_materialization_event(
        dg.AssetKey("srl_adapter")).asset_materialization.metadata
    uri = metadata["artifact_uri"].value
    assert uri.startswith(f"s3://srl-test/deployment/artifacts/srl_adapter/{SPECIES}/versions/")
    fetched = store.fetch_dir(tmp_path / "fetched", "srl_adapter", SPECIES)
    assert folder_hash(fetched) == folder_hash(second / "srl_adapter" / SPECIES)
    assert json.loads((fetched / "metrics.json").read_text())["status"] == "completed"
    objects = boto3.client("s3", region_name=REGION, endpoint_url=machines["endpoint"]).list_objects_v2(
        Bucket="srl-test", Prefix=f"deployment/artifacts/srl_adapter/{SPECIES}/")["Contents"]
    assert all(o["Key"].split("/")[-1] == "CURRENT.json" or "/versions/" in o["Key"] for o in objects)


def test_the_io_manager_reads_an_upstream_json_artifact_from_the_store(machines):
    result, first, third = machines["lore_index"], machines["first"].artifacts, machines["third"].artifacts
    assert result.success, failure_messages(result)
    assert (third / "monster_lore" / f"{SPECIES}.json").read_bytes() == (first / "monster_lore" / f"{SPECIES}.json").read_bytes()
    assert (third / "lore_index" / f"{SPECIES}.json").read_bytes() == (first / "lore_index" / f"{SPECIES}.json").read_bytes()


def test_a_failed_training_run_publishes_its_failure_marker_and_keeps_the_published_adapter(machines):
    store = machines["store"]
    before = store.current("srl_adapter", SPECIES)
    fourth = Machine(machines["tmp"], "fourth", machines["settings"], training_backend=_JobDies())
    result = fourth.run("srl_only")
    assert not result.success and "the training job died" in failure_messages(result)
    assert store.current("srl_adapter", SPECIES) == before
    marker = json.loads(store.read_bytes(store.uri("srl_adapter", f".{SPECIES}.failed.json")))
    assert "the training job died" in marker["error"]


def test_a_registered_adapter_is_published_and_another_machine_can_load_it(machines, tmp_path):
    """The stale-Bronze fallback names the registered copy by its path; on a fresh machine that
    path is brought from the store."""
    from srl_pipeline.defs.registry.assets import _store_adapter
    from srl_pipeline.defs.training.resources import TrainingSettings

    settings = machines["settings"]
    here = TrainingSettings(artifacts_dir=str(tmp_path / "here"), **settings)
    source = machines["second"].artifacts / "srl_adapter" / SPECIES
    copy = _store_adapter(source, str(tmp_path / "here" / "registry"), here, SPECIES, "bronze", "v0123")
    there = TrainingSettings(artifacts_dir=str(tmp_path / "there"), **settings)
    elsewhere = copy.replace(str(tmp_path / "here"), str(tmp_path / "there"))
    assert there.mirror().fetch_if_under_root(elsewhere)
    assert folder_hash(tmp_path / "there" / "registry" / "adapters" / SPECIES / "bronze" / "v0123") == folder_hash(source)
    assert not there.mirror().fetch_if_under_root(tmp_path / "not-the-artifacts" / "x")


def test_a_generator_body_is_refused_at_definition_time():
    from srl_pipeline.defs.artifact_sync import synced

    def yields(context, training):
        yield dg.MaterializeResult()

    with pytest.raises(TypeError, match="cannot wrap the generator yields"):
        synced(yields)
