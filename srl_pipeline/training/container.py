"""The SageMaker container contract, for the training entrypoint.

Inside a training container the inputs are files under ``/opt/ml/input/data/<channel>`` (named by
``SM_CHANNEL_<CHANNEL>``), the model is whatever is left in ``/opt/ml/model`` (``SM_MODEL_DIR``;
SageMaker uploads it as ``model.tar.gz``) and checkpoints live in the job's CheckpointConfig local
path (``/opt/ml/checkpoints``, passed as ``SRL_CHECKPOINT_DIR``), synced to S3. The job spec comes
in its own ``spec`` channel and keeps the paths of the machine that wrote it (provenance); this
module points them at the container's copies.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Mapping

from .job_spec import TrainingJobSpec

SPEC_FILE = "job_spec.json"
CHECKPOINT_ENV = "SRL_CHECKPOINT_DIR"
DEFAULT_CHECKPOINTS = "/opt/ml/checkpoints"


def in_container(env: Mapping[str, str]) -> bool:
    """A SageMaker training container (the training toolkit sets SM_MODEL_DIR and SM_CHANNELS)."""
    return "SM_MODEL_DIR" in env


def channel_dir(env: Mapping[str, str], channel: str) -> Path | None:
    value = env.get(f"SM_CHANNEL_{channel.upper()}")
    return Path(value) if value else None


def default_spec_path(env: Mapping[str, str]) -> Path | None:
    """``$SM_CHANNEL_SPEC/job_spec.json`` in a container, else None (``--spec`` is required)."""
    spec = channel_dir(env, "spec")
    return spec / SPEC_FILE if spec else None


def resolve_for_container(spec: TrainingJobSpec, env: Mapping[str, str]) -> TrainingJobSpec:
    """The spec with its paths at the container's channels, model dir and checkpoint folder. A
    base model given as a hub id (no ``base_model`` channel) stays a hub id."""
    dataset_dir = channel_dir(env, "dataset")
    if dataset_dir is None:
        raise ValueError("the job has no 'dataset' input channel (SM_CHANNEL_DATASET is not set)")
    base_dir = channel_dir(env, "base_model")
    adapter_dir = channel_dir(env, "initial_adapter")
    if spec.initial_adapter and adapter_dir is None:
        raise ValueError("the spec starts from an adapter but the job has no 'initial_adapter' channel")
    return replace(
        spec,
        dataset=str(dataset_dir / Path(spec.dataset).name),
        base_model=str(base_dir) if base_dir else spec.base_model,
        initial_adapter=str(adapter_dir) if spec.initial_adapter else None,
        output_dir=env["SM_MODEL_DIR"],
        checkpoint_dir=env.get(CHECKPOINT_ENV, DEFAULT_CHECKPOINTS),
    )
