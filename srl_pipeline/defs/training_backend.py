"""Where training runs: a local subprocess through Dagster Pipes (default), or SageMaker.

Both run the same entrypoint (`python -m srl_pipeline.training.entrypoint --spec spec.json`)
on the same job spec; the asset code does not know which backend it got.
"""

import shutil
import sys
import uuid
from pathlib import Path
from typing import Literal

import dagster as dg

from ..training.job_spec import TrainingJobSpec


class TrainingBackend(dg.ConfigurableResource):
    """`local`: subprocess + Dagster Pipes, logs streamed, metrics and the materialisation
    reported back. (`sagemaker` is configured in the AWS profile.)"""

    kind: Literal["local", "sagemaker"] = "local"
    python: str = sys.executable
    env: dict[str, str] = {}

    def run(self, context: dg.AssetExecutionContext, spec: TrainingJobSpec) -> dg.MaterializeResult:
        if self.kind != "local":
            raise NotImplementedError("the SageMaker backend is not part of this build yet; use kind: local")
        spec_path = spec.save(Path(spec.output_dir) / "job_spec.json")  # promoted with the adapter: provenance
        client = dg.PipesSubprocessClient(env={**self.env, "PYTHONUNBUFFERED": "1"})
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


def staged_output(final_dir: Path) -> Path:
    """A fresh temporary output directory beside `final_dir`; see `promote`."""
    tmp = final_dir.parent / f".{final_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def promote(tmp_dir: Path, final_dir: Path) -> None:
    """Replace `final_dir` with a finished `tmp_dir`: the previous good adapter is only removed
    once the new one is complete and in place."""
    old = final_dir.parent / f".{final_dir.name}.old-{uuid.uuid4().hex[:8]}"
    if final_dir.exists():
        final_dir.rename(old)
    tmp_dir.rename(final_dir)
    shutil.rmtree(old, ignore_errors=True)
