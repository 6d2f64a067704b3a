"""Where training runs, behind one abstract resource: every backend runs the same entrypoint
(`python -m srl_pipeline.training.entrypoint --spec spec.json`) on the same job spec, so the asset
code does not know which backend it got. `local` (the default) is a subprocess through Dagster
Pipes; `sagemaker` (the AWS profile's) a SageMaker training job through our Pipes client
(`sagemaker.py`), its role ARN and image from the environment.
"""

from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from ....training.job_spec import TrainingJobSpec

BACKEND_KINDS = ("local", "sagemaker")
ROLE_ARN_ENV = "SRL_SAGEMAKER_ROLE_ARN"
IMAGE_URI_ENV = "SRL_SAGEMAKER_IMAGE_URI"


class TrainingBackend(dg.ConfigurableResource, ABC):
    """Runs one training job for an asset and returns what the job reported (metadata, data version)."""

    @abstractmethod
    def run(self, context: dg.AssetExecutionContext, spec: TrainingJobSpec) -> dg.MaterializeResult:
        """Run ``spec`` to completion; its adapter and ``metrics.json`` are in ``spec.output_dir`` after."""


def build_training_backend(section: dict[str, Any]) -> TrainingBackend:
    """The profile's ``training_backend`` section -> the backend resource."""
    section = dict(section)
    kind = section.pop("kind", "local")
    if kind == "local":
        from .local import LocalTrainingBackend

        section.pop("sagemaker", None)

        return LocalTrainingBackend(**section)
    if kind == "sagemaker":
        from .sagemaker import SageMakerTrainingBackend

        sagemaker = dict(section.pop("sagemaker", None) or {})
        if "s3_uri" not in sagemaker:
            raise ValueError("training_backend.kind 'sagemaker' needs training_backend.sagemaker.s3_uri (s3://bucket/prefix)")
        section.pop("python", None)
        section.pop("env", None)
        return SageMakerTrainingBackend(role_arn=dg.EnvVar(ROLE_ARN_ENV), image_uri=dg.EnvVar(IMAGE_URI_ENV),
                                        **sagemaker, **section)
    raise ValueError(f"training_backend.kind must be one of {', '.join(BACKEND_KINDS)}, got {kind!r}")
