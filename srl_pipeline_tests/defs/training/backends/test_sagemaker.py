"""The SageMaker backend end to end against moto's server on loopback, with the container emulator
(srl_pipeline_tests/sagemaker_emulator.py) running the real entrypoint: srl_adapter and
rlvr_adapter give the local backend's adapters; a retry attaches instead of launching a duplicate;
a spot interruption resumes from the checkpoints on S3; a terminated run stops its job; a job over
budget, or on data that failed a blocking check, is never created."""

from __future__ import annotations

import json
import shutil

import boto3
import dagster as dg
import pytest

from srl_pipeline.core.artifact_store import ArtifactStore
from srl_pipeline.core.hashing import file_sha256
from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.defs.training.backends.sagemaker import PipesSageMakerClient, SageMakerTier, SageMakerTrainingBackend
from srl_pipeline.definitions import build_definitions
from srl_pipeline_tests.defs.conftest import GAME_SRC, failure_messages, make_resources, materialized
from srl_pipeline_tests.sagemaker_emulator import LOG_GROUP, REGION, ROLE_ARN

SPECIES = "zombie"
# The adapters' own checks are tested with the local backend (test_training_assets.py); here they
# would only load the adapters again. The blocking-check test keeps srl_dataset's checks.
TRAIN = dg.define_asset_job("train", selection=dg.AssetSelection.assets("srl_adapter", "rlvr_adapter").without_checks(),
                            partitions_def=species_partitions)
SRL_ONLY = dg.define_asset_job("srl_only", selection=dg.AssetSelection.assets("srl_adapter").without_checks(),
                               partitions_def=species_partitions)
DATA_THEN_SRL = dg.define_asset_job("data_then_srl", selection=["srl_dataset", "srl_adapter"],
                                    partitions_def=species_partitions)


def sagemaker_backend(endpoint: str, **tier) -> SageMakerTrainingBackend:
    settings = dict(instance_type="ml.g6.12xlarge", spot=True, max_runtime_s=3600, max_wait_s=7200,
                    usd_per_instance_hour=6.37, budget_usd=10.0)
    settings.update(tier)
    return SageMakerTrainingBackend(
        s3_uri="s3://srl-test/training", region=REGION, role_arn=ROLE_ARN, image_uri="srl-pipeline-train:test",
        endpoint_url=endpoint, poll_interval_s=0.1, message_interval_s=3.0,
        tiers={"bronze": SageMakerTier(**settings)})


def with_training(resources: dict, **changes) -> dict:
    """The resources with some TrainingSettings fields changed (another job identity)."""
    training = resources["training"]
    fields = {k: getattr(training, k) for k in type(training).model_fields}
    return {**resources, "training": type(training)(**{**fields, **changes})}


class Setup:
    def __init__(self, tmp, emulator):
        game = tmp / "game"
        shutil.copytree(GAME_SRC, game)
        self.artifacts = tmp / "artifacts"
        self.local = make_resources(game, self.artifacts)
        self.emulator = emulator
        self.sagemaker = {**self.local, "training_backend": sagemaker_backend(emulator.endpoint)}
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(species_partitions.name, [SPECIES])

    def run(self, resources: dict, job=TRAIN) -> dg.ExecuteInProcessResult:
        defs = dg.Definitions.merge(build_definitions(resources=resources), dg.Definitions(jobs=[job]))
        return defs.resolve_job_def(job.name).execute_in_process(instance=self.instance, partition_key=SPECIES,
                                                                 raise_on_error=False)

    def adapter_hash(self, asset: str) -> str:
        return file_sha256(self.artifacts / asset / SPECIES / "adapter_model.safetensors")

    def latest(self, asset: str):
        return self.instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization


def _step_died(self):
    raise RuntimeError("the step's process died")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, aws):
    s = Setup(tmp_path_factory.mktemp("sagemaker"), aws)
    defs = build_definitions(resources=s.local)
    assert defs.resolve_job_def("build_base_models").execute_in_process(instance=s.instance).success
    assert defs.resolve_job_def("data").execute_in_process(instance=s.instance, partition_key=SPECIES).success
    local = s.run(s.local)
    assert local.success, failure_messages(local)
    s.local_hashes = {a: s.adapter_hash(a) for a in ("srl_adapter", "rlvr_adapter")}
    # One SageMaker SRL job plays three things at once (each its own test below): the step that
    # created it dies while the job waits for its instance; the retry attaches to the running job;
    # the job is spot-interrupted once checkpoint 1 is complete and restarts from S3. Then RLVR.
    aws.interrupt_after_checkpoint, aws.interrupt_jobs_starting_with = 1, "srl-srl-"
    aws.hold.clear()
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(PipesSageMakerClient, "_sleep", _step_died)
            m.setattr("dagster._core.pipes.utils.WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)
            s.died = s.run(s.sagemaker, SRL_ONLY)
        s.created_before_retry = list(aws.created)
        sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=aws.endpoint)
        s.status_before_retry = sagemaker.describe_training_job(TrainingJobName=aws.created[-1])["TrainingJobStatus"]
        aws.hold.set()   # the instance comes up while the retry is on its way
        s.result = s.run(s.sagemaker)
        s.created_after = list(aws.created)
    finally:
        aws.hold.set()
        aws.interrupt_after_checkpoint, aws.interrupt_jobs_starting_with = None, ""
    # what that run left, before later tests train other specs into the same folders
    s.sagemaker_hashes = {a: s.adapter_hash(a) for a in s.local_hashes}
    s.srl_metrics = json.loads((s.artifacts / "srl_adapter" / SPECIES / "metrics.json").read_text())
    s.srl_metadata = s.latest("srl_adapter").metadata
    return s


def test_both_adapters_train_on_sagemaker_and_equal_the_local_backends(setup):
    assert setup.result.success, failure_messages(setup.result)
    assert {"srl_adapter", "rlvr_adapter"} <= materialized(setup.result)
    assert setup.sagemaker_hashes == setup.local_hashes
    assert len(setup.created_after) == 2   # one SRL job (for two Dagster runs) and one RLVR job
    metrics = setup.srl_metrics
    assert metrics["status"] == "completed" and metrics["global_step"] == 2
    assert metrics["adapter_dir"] == str(setup.artifacts / "srl_adapter" / SPECIES)   # not /opt/ml/model


def test_the_job_is_created_with_the_spec_channel_pipes_env_checkpoints_and_tier_settings(setup):
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=setup.emulator.endpoint)
    srl_job = next(n for n in setup.emulator.created if n.startswith("srl-srl-zombie-"))
    job = sagemaker.describe_training_job(TrainingJobName=srl_job)
    assert job["TrainingJobStatus"] == "Completed" and srl_job.endswith("-a1")
    env = job["Environment"]
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(env)
    assert env["SRL_CHECKPOINT_DIR"] == "/opt/ml/checkpoints" == job["CheckpointConfig"]["LocalPath"]
    assert job["CheckpointConfig"]["S3Uri"].startswith("s3://srl-test/training/checkpoints/srl/zombie/")
    channels = {c["ChannelName"] for c in job["InputDataConfig"]}
    assert channels == {"spec", "dataset", "base_model"}
    assert job["ResourceConfig"]["InstanceType"] == "ml.g6.12xlarge" and job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["RoleArn"] == ROLE_ARN
    rlvr_job = next(n for n in setup.emulator.created if n.startswith("srl-rlvr-zombie-"))
    rlvr = sagemaker.describe_training_job(TrainingJobName=rlvr_job)
    assert "initial_adapter" in {c["ChannelName"] for c in rlvr["InputDataConfig"]}


def test_metrics_cost_and_artifacts_come_back_from_s3_and_cloudwatch(setup):
    md = setup.srl_metadata
    # reported by the entrypoint inside the container through the Pipes S3 message channel
    assert md["global_step"].value == 2 and md["progress_messages"].value > 2
    assert md["training_job"].value.startswith("srl-srl-zombie-")
    assert md["sagemaker/billable_seconds"].value <= md["sagemaker/training_seconds"].value
    assert md["sagemaker/spot_savings_pct"].value > 0 and md["sagemaker/cost_usd"].value > 0
    assert md["estimated_cost_usd_max"].value == pytest.approx(6.37)
    store = ArtifactStore("s3://srl-test/training", {"endpoint_url": setup.emulator.endpoint})
    pointer = store.current("adapters", "srl", SPECIES)
    assert "adapter_model.safetensors" in pointer["files"] and md["adapter_s3"].value == pointer["uri"]
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=setup.emulator.endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="srl-test", Prefix="training/checkpoints/srl/")["Contents"]]
    assert any(k.endswith("/ckpt-2/COMPLETE") for k in keys)
    logs = boto3.client("logs", region_name=REGION, endpoint_url=setup.emulator.endpoint)
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{md['training_job'].value}/")
    assert streams["logStreams"]


def test_the_cost_check_reads_the_jobs_cost_and_warns_over_budget(setup):
    cost_file = setup.artifacts / "rlvr_adapter" / SPECIES / "cost.json"   # no later test retrains RLVR
    cost = json.loads(cost_file.read_text())
    assert cost["training_job"].startswith("srl-rlvr-zombie-") and cost["billable_seconds"] >= 1

    from srl_pipeline.defs.training.checks import cost_check_result

    assert cost_check_result(cost_file).passed
    assert cost_check_result(cost_file.with_name("missing.json")).passed   # the local backend costs nothing
    over_file = cost_file.with_name("over.json")
    over_file.write_text(json.dumps({**cost, "cost_usd": 99.0, "over_budget": True}))
    over = cost_check_result(over_file)
    over_file.unlink()
    assert not over.passed and over.severity == dg.AssetCheckSeverity.WARN and "$99.00" in over.metadata["result"].text


def test_a_retry_attaches_to_the_job_instead_of_launching_a_duplicate(setup):
    before = list(setup.emulator.created)
    again = setup.run(setup.sagemaker, SRL_ONLY)
    assert again.success, failure_messages(again)
    assert setup.emulator.created == before   # no second CreateTrainingJob for the same spec
    assert setup.adapter_hash("srl_adapter") == setup.local_hashes["srl_adapter"]
    assert setup.latest("srl_adapter").metadata["global_step"].value == 2   # its messages, read again from S3


def test_a_retry_after_the_step_died_attaches_to_the_running_job(setup):
    """The first step died after CreateTrainingJob (no StopTrainingJob: nothing told it to stop);
    the retry found the job InProgress and followed it to the end instead of launching another."""
    assert not setup.died.success
    (srl_job,) = [n for n in setup.created_before_retry if n.startswith("srl-srl-zombie-")]
    assert setup.status_before_retry == "InProgress"
    assert setup.created_after == [srl_job, *(n for n in setup.created_after if n.startswith("srl-rlvr-"))]
    assert setup.srl_metadata["training_job"].value == srl_job   # its messages reached the retry's run


def test_a_spot_interruption_resumes_from_the_checkpoints_on_s3(setup):
    """The fixture's SageMaker run was interrupted midway (and still equals the local run, above)."""
    srl_job = setup.created_before_retry[0]
    emulated = setup.emulator.jobs[srl_job]
    assert emulated.starts == 2 and emulated.exit_codes == [-9, 0]
    metrics = setup.srl_metrics
    assert metrics["resumed_from"] == [1] and metrics["global_step"] == 2 and metrics["status"] == "completed"
    # the restarted container's messages continue the first one's on S3: its materialisation arrived
    md = setup.srl_metadata
    assert md["training_job"].value == srl_job and md["resumed_from"].value == [1]
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=setup.emulator.endpoint)
    statuses = [t["Status"] for t in sagemaker.describe_training_job(TrainingJobName=srl_job)["SecondaryStatusTransitions"]]
    assert statuses.index("Interrupted") < statuses.index("Restarting") < statuses.index("Completed")


def test_terminating_the_run_stops_the_training_job(setup, monkeypatch):
    from dagster._core.errors import DagsterExecutionInterruptedError

    setup.emulator.hold.clear()   # the job stays InProgress until something happens to it

    def interrupted(self):
        raise DagsterExecutionInterruptedError("the run was terminated")

    monkeypatch.setattr(PipesSageMakerClient, "_sleep", interrupted)
    # the job never ran, so no Pipes "closed" message comes: don't wait Dagster's 10 s for one
    monkeypatch.setattr("dagster._core.pipes.utils.WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)
    before = len(setup.emulator.created)
    result = setup.run(with_training(setup.sagemaker, seed=6), SRL_ONLY)
    assert not result.success
    assert len(setup.emulator.created) == before + 1
    name = setup.emulator.created[-1]
    setup.emulator.wait(name)
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=setup.emulator.endpoint)
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    assert setup.emulator.jobs[name].starts == 0   # stopped before its container ran: nothing more billed


def test_a_job_over_budget_is_refused_before_launch(setup):
    before = list(setup.emulator.created)
    expensive = {**setup.sagemaker, "training_backend": sagemaker_backend(setup.emulator.endpoint, instance_count=4,
                                                                           budget_usd=20.0)}
    result = setup.run(with_training(expensive, seed=7), SRL_ONLY)
    assert not result.success and setup.emulator.created == before
    message = failure_messages(result)
    assert "refused before launch" in message and "$25.48" in message
    assert "training_backend.sagemaker.tiers.bronze.budget_usd" in message and "Traceback" not in message


def test_no_training_job_is_created_on_data_that_failed_a_blocking_check(setup):
    before = list(setup.emulator.created)
    settings = setup.sagemaker["dataset_settings"]
    strict = type(settings)(**{**{k: getattr(settings, k) for k in type(settings).model_fields},
                               "min_train_examples": 1_000_000})
    result = setup.run(with_training({**setup.sagemaker, "dataset_settings": strict}, seed=8), DATA_THEN_SRL)
    assert "srl_adapter" not in materialized(result)
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks.get("srl_dataset_splits") is False or "srl_dataset" not in materialized(result)
    assert setup.emulator.created == before


def test_the_container_log_is_tailed_from_cloudwatch_and_the_tail_ends_with_the_session(aws):
    import io
    import threading

    from srl_pipeline.defs.training.backends.sagemaker import _CloudWatchLogTail

    logs = boto3.client("logs", region_name=REGION, endpoint_url=aws.endpoint)
    aws._ship_logs("tail-test/algo-1-1", "step 1/2 reward=0.1\nstep 2/2 reward=0.2\n")
    out, closed = io.StringIO(), threading.Event()
    tail = _CloudWatchLogTail(interval=0.05, client=logs, log_group=LOG_GROUP, log_stream="tail-test/algo-1-1",
                              target_stream=out)
    assert tail.target_is_readable({})
    tail.start({}, closed)
    closed.set()
    tail.thread.join(timeout=30)
    assert not tail.is_running()   # a quiet stream does not keep its thread alive
    assert out.getvalue().splitlines() == ["step 1/2 reward=0.1", "step 2/2 reward=0.2"]
