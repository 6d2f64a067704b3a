"""The local training backend: the entrypoint as a subprocess through Dagster Pipes."""

import os
import sys
from pathlib import Path

import dagster as dg

from ....core.allocator import allocator_env
from ....training.job_spec import TrainingJobSpec
from . import TrainingBackend
from .message_file import WholeLineTempFileMessageReader


class LocalTrainingBackend(TrainingBackend):
    """A subprocess on this machine through Dagster Pipes: logs streamed, metrics and the
    materialisation reported back."""

    python: str = sys.executable
    env: dict[str, str] = {}
    # Training jobs at once on this machine; the local instance's pools and run queue use it
    # (srl_pipeline/cli/local_instance.py), the asset code does not.
    max_concurrent_jobs: int = 2

    def process_env(self) -> dict[str, str]:
        """What the job's process gets on top of this one's environment: the allocator settings
        (:mod:`srl_pipeline.core.allocator`) unless this environment sets them, then ``env``."""
        return {**allocator_env(os.environ), **self.env, "PYTHONUNBUFFERED": "1"}

    def run(self, context: dg.AssetExecutionContext, spec: TrainingJobSpec) -> dg.MaterializeResult:
        spec_path = spec.save(Path(spec.output_dir) / "job_spec.json")  # promoted with the adapter: provenance
        client = dg.PipesSubprocessClient(env=self.process_env(),
                                          message_reader=WholeLineTempFileMessageReader())
        invocation = client.run(
            command=[self.python, "-m", "srl_pipeline.training.entrypoint", "--spec", str(spec_path)],
            context=context, extras={"stage": spec.stage, "species": spec.species, "tier": spec.tier})
        results = invocation.get_results()
        messages = invocation.get_custom_messages()
        if results:
            result = results[-1]
            return dg.MaterializeResult(metadata={**(result.metadata or {}), "progress_messages": len(messages)},
                                        data_version=result.data_version)
        return dg.MaterializeResult(metadata={"progress_messages": len(messages)})
