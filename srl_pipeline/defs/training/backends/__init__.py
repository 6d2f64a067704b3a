"""Where training runs, behind one abstract resource: every backend runs the same entrypoint
(`python -m srl_pipeline.training.entrypoint --spec spec.json`) on the same job spec, so the asset
code does not know which backend it got. `local` (the default) is a subprocess through Dagster
Pipes; SageMaker is the deployment's backend (not built yet: the profile refuses it clearly).
"""

from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from ....training.job_spec import TrainingJobSpec

BACKEND_KINDS = ("local", "sagemaker")


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

        return LocalTrainingBackend(**section)
    if kind == "sagemaker":
        raise ValueError("training_backend.kind 'sagemaker' is not available in this build yet; use kind: local")
    raise ValueError(f"training_backend.kind must be one of {', '.join(BACKEND_KINDS)}, got {kind!r}")
