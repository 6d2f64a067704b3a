"""The SageMaker training backend: the same entrypoint and job spec as the local backend, run as a
SageMaker training job through a Dagster Pipes client of ours (dagster-aws ships none for SageMaker).

``PipesSageMakerClient`` (on Dagster's ``PipesClient`` and ``open_pipes_session``) creates the
training job with the Pipes bootstrap variables in its ``Environment``, injects the context through
S3 (dagster-aws's ``PipesS3ContextInjector``), reads the entrypoint's messages (logs, step metrics,
the materialisation) from S3 (``PipesS3MessageReader``) and tails the job's CloudWatch log stream
(``PipesCloudWatchLogReader``), polls ``DescribeTrainingJob`` until the job ends and stops the job
(``StopTrainingJob``) when the Dagster run is terminated.

``SageMakerTrainingBackend`` puts the job's inputs on S3 through the artifact store (each folder
under a fresh key, published by its pointer last), derives the job name from the spec (a retry
attaches to the job already launched), refuses a job over its tier's budget before any AWS call,
downloads ``model.tar.gz`` into the spec's output folder and publishes the adapter to S3.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import boto3
import dagster as dg
from botocore.exceptions import ClientError
from dagster._core.definitions.resource_annotation import TreatAsResourceParam
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.pipes.utils import forward_only_logs_to_file
from dagster_aws.pipes import PipesCloudWatchLogReader, PipesS3ContextInjector, PipesS3MessageReader
from dagster_aws.pipes.message_readers import get_log_events
from dagster_pipes import PipesBlobStoreMessageWriter
from pydantic import Field

from ....core.artifact_store import ArtifactStore
from ....core.atomic import atomic_write_json
from ....core.hashing import file_sha256, folder_hash
from ....training import sagemaker_job as sm
from ....training.container import CHECKPOINT_ENV, SPEC_FILE
from ....training.job_spec import TrainingJobSpec
from ..checks import COST_FILE
from . import TrainingBackend

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _bucket_and_key(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"training_backend.sagemaker.s3_uri must be s3://bucket/prefix, got {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key.strip("/")


class _JobMessageReader(PipesS3MessageReader):
    """dagster-aws's S3 message reader at a fixed prefix per training job (its upstream picks a
    random one): a retry that attaches to a running or finished job reads that job's messages."""

    def __init__(self, *, key_prefix: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.key_prefix = key_prefix

    def get_params(self):  # noqa: D102 - same contract as the parent, fixed prefix
        from contextlib import contextmanager

        @contextmanager
        def params():
            yield {"bucket": self.bucket, "key_prefix": self.key_prefix,
                   PipesBlobStoreMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: False}

        return params()


class _CloudWatchLogTail(PipesCloudWatchLogReader):
    """dagster-aws's CloudWatch log reader, polling every ``interval`` seconds: its upstream tail
    asks GetLogEvents again at once when a stream has nothing new (throttled on AWS) and only
    looks at the session between batches of events, so a quiet stream kept its thread alive."""

    def __init__(self, *, interval: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.interval = interval

    def _start(self, params, is_session_closed) -> None:
        request: dict[str, Any] = {"logGroupName": self.log_group, "logStreamName": self.log_stream,
                                   "startFromHead": True}
        if self.start_time is not None:
            request["startTime"] = self.start_time
        while True:
            closed = is_session_closed.is_set()
            response = get_log_events(client=self.client, max_retries=self.max_retries, **request)
            for event in response.get("events", []):
                for line in event.get("message", "").splitlines():
                    if line:
                        forward_only_logs_to_file(line, self.target_stream)
            request["nextToken"] = response["nextForwardToken"]
            if closed and not response.get("events"):
                return   # drained after the session closed
            is_session_closed.wait(self.interval)


class _JobContextInjector(PipesS3ContextInjector):
    """dagster-aws's S3 context injector at a fixed key per training job, kept after the session:
    a container that SageMaker restarts (spot) reloads its context from the key in its
    Environment, and a retry that attaches to the job rewrites that key with the new run's context."""

    def __init__(self, *, key: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.key = key

    def inject_context(self, context):  # noqa: D102 - same contract as the parent, fixed key
        from contextlib import contextmanager

        @contextmanager
        def injected():
            self.client.put_object(Body=json.dumps(context).encode("utf-8"), Bucket=self.bucket, Key=self.key)
            yield {"bucket": self.bucket, "key": self.key}

        return injected()


class PipesSageMakerClient(dg.PipesClient, TreatAsResourceParam):
    """Runs a SageMaker training job with the Pipes protocol (context and messages through S3)."""

    def __init__(self, *, sagemaker_client: Any, s3_client: Any, bucket: str, key_prefix: str,
                 logs_client: Any = None, poll_interval_s: float = 30.0, message_interval_s: float = 10.0,
                 forward_termination: bool = True):
        self.sagemaker = sagemaker_client
        self.s3 = s3_client
        self.logs = logs_client
        self.bucket = bucket
        self.key_prefix = key_prefix.strip("/")
        self.poll_interval_s = poll_interval_s
        self.message_interval_s = message_interval_s
        self.forward_termination = forward_termination

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    def _prefix(self, job_name: str, what: str) -> str:
        return "/".join(p for p in (self.key_prefix, "pipes", job_name, what) if p)

    def run(self, *, context: dg.AssetExecutionContext, create_training_job_params: dict[str, Any],
            create: bool = True, extras: Optional[dict[str, Any]] = None) -> dg.PipesClientCompletedInvocation:
        """Create the job (``create``) or attach to the one of that name, and wait for it; the
        job's Pipes messages arrive in ``context`` while it runs."""
        params = dict(create_training_job_params)
        name = params["TrainingJobName"]
        reader = _JobMessageReader(bucket=self.bucket, client=self.s3, interval=self.message_interval_s,
                                   key_prefix=self._prefix(name, "messages"))
        injector = _JobContextInjector(bucket=self.bucket, client=self.s3, key=self._prefix(name, "context.json"))
        with dg.open_pipes_session(context=context, context_injector=injector, message_reader=reader,
                                   extras=extras) as session:
            if create:
                params["Environment"] = {**params.get("Environment", {}), **session.get_bootstrap_env_vars()}
                self.sagemaker.create_training_job(**params)
                context.log.info(f"created SageMaker training job {name} ({params['ResourceConfig']['InstanceCount']} x "
                                 f"{params['ResourceConfig']['InstanceType']}, spot {params['EnableManagedSpotTraining']})")
            else:
                context.log.info(f"attached to SageMaker training job {name} (already launched for this spec)")
            try:
                description = self._wait(context, name, reader, session)
            except DagsterExecutionInterruptedError:
                if self.forward_termination:
                    context.log.warning(f"run terminated: stopping SageMaker training job {name}")
                    self.sagemaker.stop_training_job(TrainingJobName=name)
                raise
            status = description["TrainingJobStatus"]
            if status != "Completed":
                raise dg.Failure(description=f"SageMaker training job {name} ended {status}: "
                                             f"{description.get('FailureReason', 'no reason given')}",
                                 metadata={"training_job": name})
        region = self.sagemaker.meta.region_name
        return dg.PipesClientCompletedInvocation(session, metadata={
            "training_job": name, "training_job_arn": description.get("TrainingJobArn", ""),
            "training_job_url": dg.MetadataValue.url(
                f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{name}")})

    def _sleep(self) -> None:
        time.sleep(self.poll_interval_s)

    def _wait(self, context, name: str, reader: _JobMessageReader, session) -> dict[str, Any]:
        """Poll DescribeTrainingJob until the job ends; log each secondary status once and tail each
        of the job's CloudWatch streams as it appears (a spot restart opens another)."""
        seen: set[tuple[str, str]] = set()
        tailed: set[str] = set()
        while True:
            description = self.sagemaker.describe_training_job(TrainingJobName=name)
            for t in description.get("SecondaryStatusTransitions", []):
                key = (t.get("Status", ""), str(t.get("StartTime", "")))
                if key not in seen:
                    seen.add(key)
                    context.log.info(f"{name}: {t.get('Status')}: {t.get('StatusMessage', '')}")
            if self.logs is not None:
                self._tail_logs(name, reader, session, tailed)
            if description["TrainingJobStatus"] in sm.TERMINAL:
                return description
            self._sleep()

    def _tail_logs(self, name: str, reader: _JobMessageReader, session, tailed: set[str]) -> None:
        try:
            streams = self.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
        except ClientError:   # no log group yet: the instance is not up
            return
        for stream in streams.get("logStreams", []):
            if stream["logStreamName"] in tailed:
                continue
            tailed.add(stream["logStreamName"])
            reader.add_log_reader(_CloudWatchLogTail(
                interval=self.message_interval_s, client=self.logs, log_group=LOG_GROUP, log_stream=stream["logStreamName"],
                start_time=int(session.created_at.timestamp() * 1000), debug_info=f"{name} container log"))


class SageMakerTier(dg.Config):
    """One tier's job settings (the AWS profile's ``training_backend.sagemaker.tiers.<tier>``)."""

    instance_type: str
    instance_count: int = 1
    spot: bool = False
    max_runtime_s: int = sm.MAX_RUNTIME_CAP_S
    max_wait_s: Optional[int] = None
    volume_size_gb: int = 100
    usd_per_instance_hour: float = 0.0
    budget_usd: Optional[float] = None
    image_uri: Optional[str] = None

    def job_settings(self) -> sm.TierJobSettings:
        return sm.TierJobSettings(**{k: v for k, v in self.model_dump().items() if k != "image_uri"})


class SageMakerTrainingBackend(TrainingBackend):
    """Training jobs on SageMaker; inputs, outputs, checkpoints and Pipes messages under ``s3_uri``."""

    s3_uri: str = Field(description="s3://bucket/prefix for job inputs, models, checkpoints and Pipes messages")
    region: str = "us-east-1"
    role_arn: str = Field(description="the training jobs' execution role (from $SRL_SAGEMAKER_ROLE_ARN)")
    image_uri: str = Field(description="the training image (from $SRL_SAGEMAKER_IMAGE_URI; a tier may override it)")
    tiers: dict[str, SageMakerTier] = {}
    entrypoint: list[str] = ["python", "-m", "srl_pipeline.training.entrypoint"]
    env: dict[str, str] = {}
    poll_interval_s: float = 30.0
    message_interval_s: float = 10.0
    endpoint_url: Optional[str] = Field(default=None, description="another AWS endpoint (tests: moto on loopback)")
    max_concurrent_jobs: int = 4

    # -- AWS clients -------------------------------------------------------------------------------
    def _client(self, service: str):
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def store(self) -> ArtifactStore:
        options = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        return ArtifactStore(self.s3_uri, storage_options=options)

    def pipes_client(self) -> PipesSageMakerClient:
        bucket, prefix = _bucket_and_key(self.s3_uri)
        return PipesSageMakerClient(sagemaker_client=self._client("sagemaker"), s3_client=self._client("s3"),
                                    logs_client=self._client("logs"), bucket=bucket, key_prefix=prefix,
                                    poll_interval_s=self.poll_interval_s, message_interval_s=self.message_interval_s)

    def tier(self, name: str) -> SageMakerTier:
        if name not in self.tiers:
            raise dg.Failure(description=f"training_backend.sagemaker.tiers has no '{name}' tier "
                                         f"(configured: {sorted(self.tiers)}); add its instance settings to the profile")
        return self.tiers[name]

    # -- one job -----------------------------------------------------------------------------------
    def run(self, context: dg.AssetExecutionContext, spec: TrainingJobSpec) -> dg.MaterializeResult:
        tier = self.tier(spec.tier)
        settings = tier.job_settings()
        what = f"{context.assets_def.key.to_user_string()}/{spec.species} ({spec.stage}, {spec.tier})"
        try:
            estimate = sm.check_budget(settings, spec.tier, what)   # before any AWS call
        except sm.BudgetExceeded as exc:
            raise dg.Failure(description=str(exc)) from None
        base = sm.base_job_name(spec)
        client = self.pipes_client()
        decision = sm.decide_launch(base, self._attempts(client.sagemaker, base))
        spec_path = spec.save(Path(spec.output_dir) / SPEC_FILE)  # promoted with the adapter: provenance
        params: dict[str, Any] = {"TrainingJobName": decision.name}
        if decision.create:
            if decision.previous_status:
                context.log.info(f"{base}: the last attempt ended {decision.previous_status}; "
                                 f"creating {decision.name}, which resumes from the job's checkpoints on S3")
            params = self._create_params(decision.name, spec, spec_path, tier, settings)
        invocation = client.run(context=context, create_training_job_params=params, create=decision.create,
                                extras={"stage": spec.stage, "species": spec.species, "tier": spec.tier,
                                        "training_job": decision.name})
        description = client.sagemaker.describe_training_job(TrainingJobName=decision.name)
        self._download_model(description, Path(spec.output_dir))
        spec.save(Path(spec.output_dir) / SPEC_FILE)
        cost = sm.actual_cost(description, settings)
        atomic_write_json(Path(spec.output_dir) / COST_FILE, {**cost, "training_job": decision.name})  # the cost check's
        adapter_uri = self.store().publish_dir(Path(spec.output_dir), "adapters", spec.stage, spec.species,
                                               version=decision.name)
        if cost["over_budget"]:
            context.log.warning(f"{decision.name} cost ${cost['cost_usd']:.2f}, over its budget ${settings.budget_usd:.2f}")
        results = invocation.get_results()
        reported = dict(results[-1].metadata or {}) if results else {}
        metadata = {**reported, **invocation.metadata,
                    "progress_messages": len(invocation.get_custom_messages()),
                    "estimated_cost_usd_max": estimate.usd, "adapter_s3": adapter_uri,
                    **{f"sagemaker/{k}": v for k, v in cost.items() if v is not None}}
        return dg.MaterializeResult(metadata=metadata, data_version=results[-1].data_version if results else None)

    def _attempts(self, sagemaker: Any, base: str) -> dict[str, str]:
        jobs: dict[str, str] = {}
        kwargs: dict[str, Any] = {"NameContains": base, "MaxResults": 100}
        while True:
            page = sagemaker.list_training_jobs(**kwargs)
            jobs.update({j["TrainingJobName"]: j["TrainingJobStatus"] for j in page.get("TrainingJobSummaries", [])})
            if not page.get("NextToken"):
                return jobs
            kwargs["NextToken"] = page["NextToken"]

    def _create_params(self, name: str, spec: TrainingJobSpec, spec_path: Path, tier: SageMakerTier,
                       settings: sm.TierJobSettings) -> dict[str, Any]:
        store = self.store()
        channels = {"spec": store.uri("jobs", name, "spec")}
        store.write_bytes(spec_path.read_bytes(), "jobs", name, "spec", SPEC_FILE)
        channels["dataset"] = self._publish_file(store, Path(spec.dataset), "inputs", "datasets", spec.species)
        if Path(spec.base_model).is_dir():  # a built-in / local model travels; a hub id is loaded in the container
            channels["base_model"] = self._publish_folder(store, Path(spec.base_model), "inputs", "base_models", spec.tier)
        if spec.initial_adapter:
            channels["initial_adapter"] = self._publish_folder(store, Path(spec.initial_adapter), "inputs", "adapters",
                                                               spec.stage, spec.species)
        key = sm.job_identity(spec)
        environment = {**self.env, CHECKPOINT_ENV: sm.CONTAINER_CHECKPOINTS, "AWS_DEFAULT_REGION": self.region,
                       "PYTHONUNBUFFERED": "1", "SRL_PIPES_UPLOAD_INTERVAL_S": str(self.message_interval_s)}
        return sm.create_request(
            name, settings, image_uri=tier.image_uri or self.image_uri, role_arn=self.role_arn, channels=channels,
            output_s3=store.uri("output"), checkpoint_s3=store.uri("checkpoints", spec.stage, spec.species, key),
            environment=environment, entrypoint=list(self.entrypoint),
            tags={"srl:stage": spec.stage, "srl:species": spec.species, "srl:tier": spec.tier, "srl:job": key})

    @staticmethod
    def _publish_file(store: ArtifactStore, path: Path, *name: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / path.name).write_bytes(path.read_bytes())
            return store.publish_dir(Path(tmp), *name, version=file_sha256(path)[:16])

    @staticmethod
    def _publish_folder(store: ArtifactStore, folder: Path, *name: str) -> str:
        return store.publish_dir(folder, *name, version=folder_hash(folder)[:16])

    def _download_model(self, description: dict[str, Any], out_dir: Path) -> None:
        """SageMaker uploads /opt/ml/model as ``<S3OutputPath>/<job>/output/model.tar.gz``."""
        uri = description["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = _bucket_and_key(uri)
        body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        out_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            tar.extractall(out_dir, filter="data")
        if not (out_dir / "metrics.json").is_file():
            raise dg.Failure(description=f"{uri}: the job's model has no metrics.json "
                                         f"(files: {sorted(p.name for p in out_dir.iterdir())})")


__all__ = ["PipesSageMakerClient", "SageMakerTier", "SageMakerTrainingBackend"]
