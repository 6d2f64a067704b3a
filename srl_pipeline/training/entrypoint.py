"""The one training entrypoint: ``python -m srl_pipeline.training.entrypoint --spec spec.json``.

The same command runs on a laptop (a subprocess launched through Dagster Pipes, the default) and
inside a SageMaker training container: there ``--spec`` defaults to ``$SM_CHANNEL_SPEC/job_spec.json``
and the spec's paths are pointed at the job's channels, ``/opt/ml/model`` and ``/opt/ml/checkpoints``
(synced to S3; see ``container.py``), and the Pipes context and messages go through S3 when the
launcher's bootstrap parameters name a bucket. It

1. loads the :class:`~.job_spec.TrainingJobSpec`,
2. dispatches on ``stage`` (``srl``, ``rlvr``, ``sft``, ``distill``),
3. resumes from the newest *complete* checkpoint in ``checkpoint_dir`` if there is one (incomplete
   ones, e.g. from a SIGKILL mid-save, are ignored and removed),
4. reports progress every step and the final metrics:

   - under Dagster Pipes (``DAGSTER_PIPES_CONTEXT`` in the environment): each step as
     ``pipes.log.info("step 3/20 reward=... kl=... tokens/s=...")`` plus
     ``pipes.report_custom_message({"event": "step", "step": 3, "max_steps": 20, "reward_mean": ...,
     "kl": ..., "beta": ..., "filter_rate": ..., "extra_generations": ..., "tokens_per_s": ...})``;
     other events (``started``, ``resumed``, ``finished``) as custom messages too; at the end
     ``pipes.report_asset_materialization(metadata={...})`` with the summary metrics;
   - otherwise: one JSON object per line on stdout (``{"event": "step", ...}``, ``{"event": "log",
     "message": ...}``, ..., and finally ``{"event": "result", "metrics": {...}}``).

Under ``torchrun --nproc_per_node N -m srl_pipeline.training.entrypoint --spec spec.json`` every
rank runs this; only rank 0 reports (JSON lines or Pipes) and writes the outputs, the other ranks
stay quiet (:class:`QuietReporter`; their failures still go to stderr). A clean stop (3, 4) exits 0
on the other ranks and 3 or 4 on rank 0, which torchrun reports as its own exit status 1 (it
does not pass a worker's code through): under torchrun read the status from the events
(``error``/``result``) or ``metrics.json``, not from the exit code.

Exit codes: 0 completed; 1 failure (the message on stderr and as an ``error`` event); 2 bad spec or
arguments; 3 stopped by the KL bound (adapter and metrics.json written, status
``kl_bound_exceeded``, no materialization); 4 ``max_runtime_minutes`` reached (checkpoint written:
rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ..core.console import quiet_third_party
from .job_spec import TrainingJobSpec

# report_to is "none": don't pay ~1.5 s importing mlflow through trl's profiling module.
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

EXIT_OK, EXIT_FAILED, EXIT_BAD_SPEC, EXIT_KL_BOUND, EXIT_TIME_LIMIT = 0, 1, 2, 3, 4

# Summary keys reported as materialization metadata (the full history stays in metrics.json).
MATERIALIZATION_KEYS = (
    "status", "global_step", "max_steps", "validation_reward_base", "validation_reward_trained", "reward_mean_last",
    "kl_last", "kl_max", "kl_window_max", "kl_target", "beta_final", "filter_rate", "extra_generations", "extra_generation_cost",
    "generations_per_kept_group", "padded_groups", "tokens_per_s_mean", "train_seconds", "resumed_from",
    "adapter_dir", "species", "tier", "stage", "validation_success_reference", "validation_success_trained",
    "kl_reference", "loss_first", "loss_last", "kl_to_teacher_first", "kl_to_teacher_last", "sft_steps",
    "on_policy_steps", "warm_start", "traces", "validation_kl_to_teacher_base", "validation_kl_to_teacher_trained",
)


class JsonLinesReporter:
    """Progress as JSON lines on a stream (stdout by default)."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdout

    def _emit(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps(obj, default=str) + "\n")
        self.stream.flush()

    def log(self, message: str) -> None:
        self._emit({"event": "log", "message": message})

    def step(self, record: dict[str, Any]) -> None:
        self._emit({"event": "step", **record})

    def event(self, name: str, payload: dict[str, Any]) -> None:
        self._emit({"event": name, **payload})

    def result(self, metrics: dict[str, Any], materialize: bool) -> None:
        self._emit({"event": "result", "metrics": metrics})

    def error(self, message: str) -> None:
        self._emit({"event": "error", "message": message})


class QuietReporter:
    """A non-main rank's reporter: rank 0 speaks for the job (one event stream, one materialization)."""

    def log(self, message: str) -> None: ...

    def step(self, record: dict[str, Any]) -> None: ...

    def event(self, name: str, payload: dict[str, Any]) -> None: ...

    def result(self, metrics: dict[str, Any], materialize: bool) -> None: ...

    def error(self, message: str) -> None: ...


def _fmt(x: Any) -> str:
    return "n/a" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def _milestone(step: Any, max_steps: Any, every: int = 10) -> bool:
    """The steps worth a line at INFO: the first, every ``every``-th and the last."""
    if not isinstance(step, int) or not isinstance(max_steps, int):
        return True
    return step <= 1 or step >= max_steps or step % every == 0


class PipesReporter:
    """Progress through a Dagster Pipes context (log lines + custom messages + materialization)."""

    def __init__(self, pipes: Any):
        self.pipes = pipes

    def log(self, message: str) -> None:
        self.pipes.log.info(message)

    def step(self, record: dict[str, Any]) -> None:
        shown = ("loss", "reward_mean", "success_rate", "kl", "beta", "filter_rate", "tokens_per_s")
        values = " ".join(f"{k.replace('_mean', '').replace('tokens_per_s', 'tokens/s')}={_fmt(record[k])}"
                          for k in shown if record.get(k) is not None)
        line = f"step {record.get('step')}/{record.get('max_steps')} {values}"
        if _milestone(record.get("step"), record.get("max_steps")):
            self.pipes.log.info(line)
        else:  # every step stays in the run's DEBUG stream (the UI); the console shows milestones
            self.pipes.log.debug(line)
        self.pipes.report_custom_message({"event": "step", **record})

    def event(self, name: str, payload: dict[str, Any]) -> None:
        self.pipes.report_custom_message({"event": name, **json.loads(json.dumps(payload, default=str))})

    def result(self, metrics: dict[str, Any], materialize: bool) -> None:
        meta = {k: metrics.get(k) for k in MATERIALIZATION_KEYS if metrics.get(k) is not None}
        meta = json.loads(json.dumps(meta, default=str))
        if materialize:
            asset_key = None
            try:
                asset_key = self.pipes.extras.get("asset_key")
            except Exception:  # noqa: BLE001 - extras are optional
                pass
            self.pipes.report_asset_materialization(metadata=meta, asset_key=asset_key)
        else:
            self.pipes.report_custom_message({"event": "result", "materialized": False, **meta})

    def error(self, message: str) -> None:
        self.pipes.log.error(message)


def run_job(spec: TrainingJobSpec, reporter: Any) -> dict[str, Any]:
    """Dispatch one job spec to its stage's trainer."""
    if spec.stage == "srl":
        from .srl_trainer import run_srl

        return run_srl(spec, reporter)
    if spec.stage == "rlvr":
        from .rlvr_trainer import run_rlvr

        return run_rlvr(spec, reporter)
    if spec.stage == "sft":
        from .sft_trainer import run_sft

        return run_sft(spec, reporter)
    if spec.stage == "distill":
        from .distill_trainer import run_distill

        return run_distill(spec, reporter)
    raise NotImplementedError(f"training stage {spec.stage!r} is not implemented by this entrypoint")


def _main(spec_path: Path, reporter: Any) -> int:
    from .container import in_container, resolve_for_container
    from .job_runner import STATUS_COMPLETED, STATUS_KL_BOUND, TimeLimitReached

    try:
        spec = TrainingJobSpec.load(spec_path)
        if in_container(os.environ):  # SageMaker: the inputs are the job's channels, the outputs /opt/ml
            spec = resolve_for_container(spec, os.environ)
    except (OSError, ValueError, TypeError) as exc:
        reporter.error(f"bad job spec {spec_path}: {exc}")
        print(f"error: bad job spec {spec_path}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    try:
        metrics = run_job(spec, reporter)
    except TimeLimitReached as exc:
        reporter.error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIME_LIMIT
    except Exception as exc:  # noqa: BLE001 - every failure becomes a clear message and exit code
        msg = f"{spec.stage} training of {spec.species}/{spec.tier} failed: {type(exc).__name__}: {exc}"
        reporter.error(msg)
        traceback.print_exc(file=sys.stderr)
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_FAILED
    status = metrics.get("status")
    reporter.result(metrics, materialize=status == STATUS_COMPLETED)
    if status == STATUS_KL_BOUND:
        msg = (f"stopped: KL to the base model stayed above the bound (target {metrics.get('kl_target')}, "
               f"last {metrics.get('kl_last')}) at step {metrics.get('global_step')}; adapter and metrics written "
               f"to {metrics.get('adapter_dir')} with status {status}")
        reporter.error(msg)
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_KL_BOUND
    return EXIT_OK


def _pipes_transport() -> dict[str, Any]:
    """The context loader and message writer the launcher asked for: S3 when the bootstrap
    parameters name a bucket (the SageMaker backend), the defaults (file / stdio) otherwise."""
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, decode_param

    params = decode_param(os.environ[DAGSTER_PIPES_CONTEXT_ENV_VAR]) if os.environ.get(DAGSTER_PIPES_CONTEXT_ENV_VAR) else {}
    if "bucket" not in params:
        return {}
    import boto3
    from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter

    class ContinuingS3MessageWriter(PipesS3MessageWriter):
        """dagster-pipes' S3 writer, numbering its chunks after those already there: a container
        restarted in the same job (a spot interruption) has the same message prefix, and the
        launcher's reader is waiting for the next chunk number, not for chunk 1 again."""

        def make_channel(self, params):
            channel = super().make_channel(params)
            prefix = params.get("key_prefix")
            listed = s3.list_objects_v2(Bucket=params["bucket"], Prefix=f"{prefix}/" if prefix else "")
            channel._counter = 1 + sum(1 for o in listed.get("Contents", []) if o["Key"].endswith(".json"))
            return channel

    s3 = boto3.client("s3")
    interval = float(os.environ.get("SRL_PIPES_UPLOAD_INTERVAL_S", "10"))
    return {"context_loader": PipesS3ContextLoader(client=s3),
            "message_writer": ContinuingS3MessageWriter(client=s3, interval=interval)}


def _is_pipes_process() -> bool:
    try:
        from dagster_pipes import PipesEnvVarParamsLoader
    except ImportError:  # pragma: no cover - dagster-pipes is a dependency, but keep the CLI usable
        return False
    return PipesEnvVarParamsLoader().is_dagster_pipes_process()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srl_pipeline.training.entrypoint",
                                     description="Run (or resume) one training job from a job spec.")
    parser.add_argument("--spec", type=Path, default=None,
                        help="path of the TrainingJobSpec JSON (in a SageMaker container: $SM_CHANNEL_SPEC/job_spec.json)")
    args = parser.parse_args(argv)
    quiet_third_party()  # no library deprecation warnings or weight-loading bars unless $SRL_VERBOSE
    if args.spec is None:
        from .container import default_spec_path

        args.spec = default_spec_path(os.environ)
        if args.spec is None:
            parser.error("--spec is required outside a SageMaker container")
    if not args.spec.is_file():
        print(f"error: no job spec at {args.spec}", file=sys.stderr)
        return EXIT_BAD_SPEC
    from .distributed import rank_from_env

    if rank_from_env() != 0:
        code = _main(args.spec, QuietReporter())
        # A clean stop is rank 0's to report: exiting non-zero first would make torchrun SIGTERM rank 0
        # before its last events (and Pipes' closing messages) are out.
        return EXIT_OK if code in (EXIT_KL_BOUND, EXIT_TIME_LIMIT) else code
    if _is_pipes_process():
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes(**_pipes_transport()) as pipes:
            return _main(args.spec, PipesReporter(pipes))
    return _main(args.spec, JsonLinesReporter())


if __name__ == "__main__":
    sys.exit(main())
