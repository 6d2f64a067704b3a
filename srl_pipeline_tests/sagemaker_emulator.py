"""AWS on loopback for the tests: moto's server (S3, SageMaker, CloudWatch Logs) and a container
emulator that runs SageMaker training jobs for real on this machine.

moto records a CreateTrainingJob request but runs nothing: it marks the job Completed at once,
drops the request's ``Environment`` and has no StopTrainingJob. The emulator stands in for
SageMaker's control plane and its training container:

- it hooks moto's CreateTrainingJob (in this process: ThreadedMotoServer shares moto's backends)
  to keep the ``Environment``, refuse a duplicate name as SageMaker does, and mark the job
  InProgress; and it adds StopTrainingJob (Stopping -> Stopped);
- per job, it lays out ``/opt/ml`` in a temp folder (``input/data/<channel>`` from the S3 channels,
  ``model``, ``checkpoints`` from the CheckpointConfig S3 URI), runs the job's ContainerEntrypoint
  (``python`` is this interpreter: the "image" is this checkout) with the job's Environment and the
  ``SM_*`` variables of the SageMaker training toolkit, ``/opt/ml`` paths mapped to the temp folder;
- it ships the container's output to CloudWatch Logs (``/aws/sagemaker/TrainingJobs``), syncs the
  checkpoints to S3, uploads ``/opt/ml/model`` as ``model.tar.gz`` and sets the status, the
  secondary status transitions and the training / billable seconds (spot: a fixed discount);
- ``interrupt_after_checkpoint = N`` plays a spot interruption: the container is killed once
  checkpoint N is complete, the checkpoints are synced, and the job restarts on a fresh ``/opt/ml``
  from the checkpoints in S3, as managed spot training does.

The client under test talks to moto only through boto3 over HTTP, as it would to AWS.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/srl-training"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's threaded server on 127.0.0.1 (a free port), fake credentials in the environment."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in FAKE_CREDENTIALS}
    os.environ.update(FAKE_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key.strip("/")


@dataclass
class EmulatedJob:
    name: str
    process: subprocess.Popen | None = None
    starts: int = 0
    stop_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    exit_codes: list[int] = field(default_factory=list)


class SageMakerEmulator:
    """Runs the training jobs created on moto (see the module docstring)."""

    def __init__(self, endpoint: str, *, spot_discount: float = 0.7, workdir: Path | None = None):
        self.endpoint = endpoint
        self.spot_discount = spot_discount
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sagemaker-emulator-"))
        self.interrupt_after_checkpoint: int | None = None
        self.interrupt_jobs_starting_with = ""   # which jobs the spot interruption hits ("": every job)
        self.hold = threading.Event()       # cleared: jobs wait InProgress until released (termination test)
        self.hold.set()
        self.created: list[str] = []
        self.jobs: dict[str, EmulatedJob] = {}
        self._patched: list[tuple[Any, str, Any]] = []
        self.s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        self.logs = boto3.client("logs", region_name=REGION, endpoint_url=endpoint)

    # -- moto hooks ----------------------------------------------------------------------------------
    def install(self) -> "SageMakerEmulator":
        from moto.core.common_types import TYPE_RESPONSE  # noqa: F401 - moto is importable
        from moto.sagemaker.exceptions import ValidationError
        from moto.sagemaker.responses import SageMakerResponse

        emulator = self
        original = SageMakerResponse.create_training_job

        def create_training_job(response_self):
            name = response_self._get_param("TrainingJobName")
            if name in response_self.sagemaker_backend.training_jobs:
                raise ValidationError(message=f"Training job names must be unique within an AWS account and region, "
                                              f"and a training job with this name already exists ({name})")
            result = original(response_self)
            job = response_self.sagemaker_backend.training_jobs[name]
            job.environment = response_self._get_param("Environment") or {}
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.secondary_status_transitions = [
                {"Status": "Starting", "StartTime": job.creation_time, "StatusMessage": "Launching requested ML instances"}]
            del job.model_artifacts["S3ModelArtifacts"]   # there is no model until the job uploads one
            emulator.created.append(name)
            emulator._start(job)
            return result

        def stop_training_job(response_self):
            from moto.core.responses import ActionResult

            name = response_self._get_param("TrainingJobName")
            job = response_self.sagemaker_backend.training_jobs[name]
            if job.training_job_status == "InProgress":
                job.training_job_status, job.secondary_status = "Stopping", "Stopping"
                emulator._stop(name)
            return ActionResult({})

        self._patch(SageMakerResponse, "create_training_job", create_training_job)
        self._patch(SageMakerResponse, "stop_training_job", stop_training_job)
        return self

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._patched.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def uninstall(self) -> None:
        for owner, name, value in reversed(self._patched):
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._patched.clear()

    def wait(self, name: str, timeout: float = 120) -> None:
        """Until the emulated container of ``name`` has finished (for the tests' own checks)."""
        if not self.jobs[name].done.wait(timeout):
            raise TimeoutError(f"emulated job {name} still running after {timeout}s")

    # -- one job ---------------------------------------------------------------------------------
    def _start(self, job: Any) -> None:
        self.jobs[job.training_job_name] = EmulatedJob(job.training_job_name)
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"emulator-{job.training_job_name}").start()

    def _stop(self, name: str) -> None:
        emulated = self.jobs[name]
        emulated.stop_requested = True
        self.hold.set()
        if emulated.process is not None and emulated.process.poll() is None:
            emulated.process.send_signal(signal.SIGTERM)   # SageMaker: SIGTERM, then SIGKILL after 120 s

    def _transition(self, job: Any, status: str, message: str) -> None:
        now = _now()
        if job.secondary_status_transitions:
            job.secondary_status_transitions[-1].setdefault("EndTime", now)
        job.secondary_status_transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status = status
        job.last_modified_time = now

    def _run(self, job: Any) -> None:
        emulated = self.jobs[job.training_job_name]
        started = time.monotonic()
        billable_factor = (1 - self.spot_discount) if job.enable_managed_spot_training else 1.0
        try:
            self.hold.wait()
            code = None
            while not emulated.stop_requested:
                self._transition(job, "Downloading", "Downloading the input data")
                root = Path(tempfile.mkdtemp(prefix=f"{job.training_job_name}-", dir=self.workdir))
                env, command = self._layout(job, root)
                self._transition(job, "Training", "Training image download completed. Training in progress.")
                code, interrupted = self._container(job, emulated, env, command, root)
                self._sync_checkpoints(job, root)
                if interrupted:
                    self._transition(job, "Interrupted", "The job was interrupted (spot capacity reclaimed)")
                    self._transition(job, "Restarting", "Restarting the job from the checkpoints in S3")
                    continue
                break
            if emulated.stop_requested:
                job.training_job_status, job.failure_reason = "Stopped", "Stopped by StopTrainingJob"
                self._transition(job, "Stopped", "The job was stopped")
            elif code == 0:
                self._transition(job, "Uploading", "Uploading generated training model")
                self._upload_model(job, root)
                job.training_job_status = "Completed"
                self._transition(job, "Completed", "Training job completed")
            else:
                job.training_job_status = "Failed"
                job.failure_reason = f"AlgorithmError: the container exited with code {code}"
                self._transition(job, "Failed", job.failure_reason)
        except Exception as exc:  # noqa: BLE001 - a broken emulator run is a failed job, with the reason
            job.training_job_status, job.failure_reason = "Failed", f"emulator error: {type(exc).__name__}: {exc}"
        finally:
            seconds = max(1, int(round(time.monotonic() - started)))
            job.training_time_in_seconds = seconds
            job.billable_time_in_seconds = max(1, int(round(seconds * billable_factor)))
            job.training_end_time = _now()
            emulated.done.set()

    def _layout(self, job: Any, root: Path) -> tuple[dict[str, str], list[str]]:
        """/opt/ml under ``root``: channels and checkpoints from S3; the container's environment."""
        opt = root / "opt" / "ml"
        channels = []
        for channel in job.input_data_config:
            name = channel["ChannelName"]
            self._download_prefix(channel["DataSource"]["S3DataSource"]["S3Uri"], opt / "input" / "data" / name)
            channels.append(name)
        (opt / "model").mkdir(parents=True, exist_ok=True)
        local_ckpt = self._map(job.checkpoint_config.get("LocalPath", "/opt/ml/checkpoints"), root)
        self._download_prefix(job.checkpoint_config["S3Uri"], Path(local_ckpt))
        (opt / "input" / "config").mkdir(parents=True, exist_ok=True)
        (opt / "input" / "config" / "inputdataconfig.json").write_text(
            json.dumps({c["ChannelName"]: {"TrainingInputMode": "File"} for c in job.input_data_config}))
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "OMP_NUM_THREADS", "TMPDIR")}
        env.update({k: self._map(v, root) for k, v in (job.environment or {}).items()})
        env.update(FAKE_CREDENTIALS)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint, "PYTHONPATH": str(PROJECT_ROOT),
            "SM_MODEL_DIR": str(opt / "model"), "SM_CHANNELS": json.dumps(channels),
            "SM_OUTPUT_DATA_DIR": str(opt / "output" / "data"), "SM_INPUT_DIR": str(opt / "input"),
            "SM_HOSTS": json.dumps(["algo-1"]), "SM_CURRENT_HOST": "algo-1", "SM_NUM_GPUS": "0",
            "SM_NUM_CPUS": "1", "TRAINING_JOB_NAME": job.training_job_name,
            **{f"SM_CHANNEL_{c.upper()}": str(opt / "input" / "data" / c) for c in channels},
        })
        entry = list(job.algorithm_specification.get("ContainerEntrypoint") or [])
        command = [sys.executable if entry and entry[0] in ("python", "python3") else entry[0], *entry[1:]]
        command += list(job.algorithm_specification.get("ContainerArguments") or [])
        return env, command

    def _map(self, value: str, root: Path) -> str:
        """The container's /opt/ml is ``root``/opt/ml (a bind mount, in effect)."""
        return str(root) + value if isinstance(value, str) and value.startswith("/opt/ml") else value

    def _container(self, job: Any, emulated: EmulatedJob, env: dict[str, str], command: list[str],
                   root: Path) -> tuple[int, bool]:
        """Run the container's command; returns (exit code, interrupted by the spot emulation)."""
        emulated.starts += 1
        log_path = root / "container.log"
        stream = f"{job.training_job_name}/algo-1-{int(time.time())}-{emulated.starts}"
        with open(log_path, "wb") as log:
            emulated.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                cwd=str(root))
            interrupted = False
            target = self.interrupt_after_checkpoint
            if not job.training_job_name.startswith(self.interrupt_jobs_starting_with):
                target = None
            ckpt_dir = Path(env.get("SRL_CHECKPOINT_DIR", str(root / "opt/ml/checkpoints")))
            while emulated.process.poll() is None:
                if target is not None and emulated.starts == 1 and (ckpt_dir / f"ckpt-{target}" / "COMPLETE").is_file():
                    emulated.process.send_signal(signal.SIGKILL)
                    emulated.process.wait()
                    interrupted = True
                    break
                time.sleep(0.05)
        code = emulated.process.returncode
        emulated.exit_codes.append(code)
        self._ship_logs(stream, log_path.read_text(errors="replace"))
        return code, interrupted

    def _ship_logs(self, stream: str, text: str) -> None:
        try:
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        except self.logs.exceptions.ResourceAlreadyExistsException:
            pass
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()][-5000:]
        if events:
            self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)

    def _download_prefix(self, uri: str, local: Path) -> None:
        bucket, prefix = _split(uri)
        local.mkdir(parents=True, exist_ok=True)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                target = local / obj["Key"][len(prefix) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(target))

    def _sync_checkpoints(self, job: Any, root: Path) -> None:
        """SageMaker keeps /opt/ml/checkpoints and the CheckpointConfig S3 URI in sync (new and
        changed files up, deleted files removed)."""
        bucket, prefix = _split(job.checkpoint_config["S3Uri"])
        local = Path(self._map(job.checkpoint_config.get("LocalPath", "/opt/ml/checkpoints"), root))
        present = {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                if obj["Key"][len(prefix) + 1:] not in present:
                    self.s3.delete_object(Bucket=bucket, Key=obj["Key"])
        for rel in sorted(present):
            self.s3.upload_file(str(local / rel), bucket, f"{prefix}/{rel}")

    def _upload_model(self, job: Any, root: Path) -> None:
        buffer = io.BytesIO()
        model = root / "opt" / "ml" / "model"
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(model.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(model)), recursive=False)
        uri = f"{job.output_data_config['S3OutputPath'].rstrip('/')}/{job.training_job_name}/output/model.tar.gz"
        bucket, key = _split(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        job.model_artifacts["S3ModelArtifacts"] = uri


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
