"""The one job driver every training stage (SRL, RLVR, SFT, distillation) runs through.

load the base model (and the initial adapter) -> resume from the newest *complete* checkpoint
-> train under the time limit -> save the PEFT adapter -> score validation -> ``metrics.json``.

A stage contributes a :class:`StageJob`: its config (a dataclass beside its trainer that builds the
TRL config), the data counts, ``build`` (its trainer, a TRL trainer with
:class:`~.trainer_state.JobStateMixin`) and ``score`` (its validation numbers). Everything else
(checkpoint clean-up and resume, the checkpoint trigger and the time limit, the statuses, the
outputs and their order, the common metrics) is decided here, once.

Statuses: ``completed``; ``kl_bound_exceeded`` (a GRPO stage stopped cleanly by its KL bound:
adapter and metrics are written, the caller decides); ``time_limit`` (``max_runtime_minutes``
spent: a checkpoint is written and :class:`TimeLimitReached` raised; rerun the spec to resume).

Several processes (``torchrun --nproc_per_node N -m srl_pipeline.training.entrypoint``): every
rank trains (DDP; the per-device batch is the global batch / N, see the stages' ``trl_config``);
the main process alone cleans up and seals checkpoints (every rank runs the Trainer's writers,
:mod:`.checkpoints`), writes the adapter, scores validation, writes ``metrics.json`` and reports;
the others get a no-op reporter, wait for its outputs at a barrier and return the same metrics.
The resume point is rank 0's choice, the clock-based decisions are rank 0's
(:class:`~.distributed.Processes`). A stage that cannot run so (``StageJob.multi_process`` False)
fails at once, naming the stage, instead of hanging in a collective.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from ..core.atomic import atomic_write_json
from .distributed import Processes, world_size_from_env
from .job_spec import TrainingJobSpec

STATUS_COMPLETED = "completed"
STATUS_KL_BOUND = "kl_bound_exceeded"
STATUS_TIME_LIMIT = "time_limit"


class Reporter:
    """Where progress goes (stdout JSON lines, Dagster Pipes, a list in tests). No-op base."""

    def log(self, message: str) -> None: ...

    def step(self, record: dict[str, Any]) -> None: ...

    def event(self, name: str, payload: dict[str, Any]) -> None: ...


class TimeLimitReached(RuntimeError):
    """The job's ``max_runtime_minutes`` ran out; a checkpoint was written; rerun to resume."""


class StageConfig(Protocol):
    """What the runner reads from a stage's config dataclass."""

    prompt_format: str
    torch_threads: int | None
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    lora_target_modules: list[str]

    def trl_config(self, spec: TrainingJobSpec, world_size: int = 1) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class StageJob:
    """One stage's part of a job.

    ``build(model, tokenizer, chat, common)`` makes the trainer; ``common`` holds the keyword
    arguments the runner decides (model, TRL args, LoRA config, checkpoint manager, ``on_step``).
    ``score(peft_model, tokenizer, chat)`` returns the validation numbers for ``metrics.json``.
    ``check_tokenizer(tokenizer)`` may reject the data before any training (e.g. SFT prompts that
    do not fit ``max_length``).
    """

    spec: TrainingJobSpec
    hp: StageConfig
    n_train: int
    n_validation: int
    build: Callable[[Any, Any, bool, dict[str, Any]], Any]
    score: Callable[[Any, Any, bool], dict[str, Any]]
    check_tokenizer: Callable[[Any], None] | None = None
    multi_process: bool = True           # False: the stage cannot train under torchrun (fails clearly)


class MultiProcessUnsupported(NotImplementedError):
    """The stage cannot train in several processes; run it with one (no torchrun)."""


def use_chat(tokenizer: Any, prompt_format: str) -> bool:
    """Chat-formatted prompts: ``chat``, or ``auto`` with a tokenizer that has a chat template."""
    if prompt_format == "auto":
        return bool(getattr(tokenizer, "chat_template", None))
    return prompt_format == "chat"


def lora_config(hp: StageConfig):
    """The fresh LoRA adapter a stage trains when it does not start from one."""
    from peft import LoraConfig

    return LoraConfig(r=hp.lora_r, lora_alpha=hp.lora_alpha, lora_dropout=hp.lora_dropout,
                      target_modules=list(hp.lora_target_modules), task_type="CAUSAL_LM", bias="none")


def load_model(base_model: str):
    """The base model and its tokenizer (hub id or local folder; nothing downloaded for builtins)."""
    from .base_models import load_base_model

    return load_base_model(base_model)


def run_stage_job(job: StageJob, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one job and return its metrics (also ``<output_dir>/metrics.json``, written
    last, next to the PEFT adapter). Raises :class:`TimeLimitReached` when the time limit stops it."""
    import datasets
    import torch
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .checkpoints import CheckpointManager, CheckpointTriggerCallback

    spec, hp = job.spec, job.hp
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    world_size = world_size_from_env()
    if world_size > 1 and not job.multi_process:
        raise MultiProcessUnsupported(f"the {spec.stage} stage cannot train in several processes (WORLD_SIZE="
                                      f"{world_size}); run it in one process, without torchrun")
    procs = Processes.from_env()
    reporter = (reporter or Reporter()) if procs.is_main else Reporter()  # one voice: rank 0's
    if hp.torch_threads:
        torch.set_num_threads(hp.torch_threads)

    manager = CheckpointManager(spec.checkpoint_dir, keep=spec.keep_checkpoints, is_main=procs.is_main,
                                barrier=procs.barrier)
    if procs.is_main:
        removed = manager.cleanup_incomplete()
        if removed:
            reporter.log(f"ignored and removed {len(removed)} incomplete checkpoint(s): {[p.name for p in removed]}")
    latest = _agreed_latest(manager, procs)

    model, tokenizer = load_model(spec.base_model)
    chat = use_chat(tokenizer, hp.prompt_format)
    if job.check_tokenizer is not None:
        job.check_tokenizer(tokenizer)
    peft_config = None
    if spec.initial_adapter:
        from peft import PeftModel

        # Trainable copy of the adapter (GRPO: TRL keeps a frozen copy, "ref", as the KL reference).
        model = PeftModel.from_pretrained(model, spec.initial_adapter, is_trainable=True)
    else:
        peft_config = lora_config(hp)

    status_box: dict[str, Any] = {}
    trigger = CheckpointTriggerCallback(spec.checkpoint_every_steps, spec.checkpoint_every_minutes,
                                        spec.max_runtime_minutes,
                                        on_time_limit=lambda: status_box.setdefault("status", STATUS_TIME_LIMIT),
                                        agree=procs.agree if procs.world_size > 1 else None)
    common = dict(model=model, args=hp.trl_config(spec, procs.world_size), peft_config=peft_config,
                  checkpoint_manager=manager,
                  on_step=lambda record: reporter.step({**record, "max_steps": spec.max_steps}))
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # stdout/stderr carry progress events, not tqdm bars
    try:
        trainer = job.build(model, tokenizer, chat, common)
    finally:
        if bars:
            datasets.enable_progress_bars()
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(trigger)  # after the trainer's own (the KL controller's), so a stop is checkpointed

    resume_path = None
    if latest is not None:
        trainer.load_job_state(manager.read_extra_state(latest))
        trainer.resumed_from.append(latest.step)
        resume_path = str(latest.path)
        reporter.event("resumed", {"step": latest.step, "checkpoint": latest.path.name})
        reporter.log(f"resuming from {latest.path.name} (step {latest.step})")

    if latest is not None and (latest.step >= spec.max_steps or trainer.status in trainer.terminal_statuses):
        trainer._load_from_checkpoint(resume_path)  # weights only: nothing left to train
        trainer.state.global_step = latest.step
    else:
        reporter.event("started", {"max_steps": spec.max_steps, "train_examples": job.n_train,
                                   "validation_examples": job.n_validation,
                                   "resume_step": latest.step if latest else 0, "processes": procs.world_size})
        trainer.train(resume_from_checkpoint=resume_path)
        if status_box.get("status") == STATUS_TIME_LIMIT and trainer.status != STATUS_KL_BOUND:
            trainer.status = STATUS_TIME_LIMIT
            raise TimeLimitReached(f"max_runtime_minutes={spec.max_runtime_minutes} reached at step "
                                   f"{trainer.state.global_step}/{spec.max_steps}; checkpoint written to "
                                   f"{spec.checkpoint_dir}; rerun the same spec to resume")
    if trainer.status is None:
        trainer.status = STATUS_COMPLETED
    if getattr(trainer, "selection", None) is not None:  # the validation-selected weights (grpo/selection.py)
        trainer.selection.restore(trainer.accelerator.unwrap_model(trainer.model))

    # Outputs (main process): the adapter (PEFT, safetensors), then metrics.json last.
    out_dir = Path(spec.output_dir)
    if procs.is_main:
        peft_model = trainer.accelerator.unwrap_model(trainer.model)
        out_dir.mkdir(parents=True, exist_ok=True)
        peft_model.save_pretrained(str(out_dir), safe_serialization=True, selected_adapters=["default"])

        reporter.log(f"scoring {job.n_validation} validation items (greedy) for the reference and the trained model")
        scores = job.score(peft_model, tokenizer, chat)
        metrics = summarize(trainer, job, scores)
        metrics["processes"] = procs.world_size
        atomic_write_json(out_dir / "metrics.json", metrics)
    procs.barrier()  # the other ranks wait for rank 0's outputs (validation: within the group's timeout)
    if not procs.is_main:
        metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    reporter.event("finished", {k: v for k, v in metrics.items() if k not in ("history", "hyperparameters")})
    return metrics


def _agreed_latest(manager: Any, procs: Processes) -> Any:
    """The checkpoint every rank resumes from: rank 0's newest complete one (read after its
    clean-up); a rank that cannot see it (a checkpoint folder not shared between hosts) fails."""
    procs.barrier()  # rank 0's clean-up is done
    latest = manager.latest() if procs.is_main else None
    step = procs.broadcast_object(None if latest is None else latest.step)
    if procs.is_main or step is None:
        return latest
    mine = {c.step: c for c in manager.complete_checkpoints()}
    if step not in mine:
        raise FileNotFoundError(f"rank {procs.rank} cannot see checkpoint ckpt-{step} under {manager.root} that rank 0 "
                                "resumes from: every rank needs the same checkpoint folder")
    return mine[step]


def summarize(trainer: Any, job: StageJob, scores: dict[str, Any]) -> dict[str, Any]:
    """``metrics.json``: the keys every stage has, the validation ``scores``, the stage's own
    (:meth:`~.trainer_state.JobStateMixin.summary_metrics`), the history, and a scalar summary."""
    spec = job.spec
    hist = trainer.history
    tps = [h["tokens_per_s"] for h in hist if h.get("tokens_per_s")]
    metrics = {
        "stage": spec.stage, "species": spec.species, "tier": spec.tier, "status": trainer.status,
        "global_step": int(trainer.state.global_step), "max_steps": spec.max_steps,
        "resumed_from": trainer.resumed_from,
        **scores,
        "validation_examples": job.n_validation, "train_examples": job.n_train,
        **trainer.summary_metrics(job.hp),
        "tokens_per_s_mean": sum(tps) / len(tps) if tps else None,
        "train_seconds": hist[-1]["elapsed_s"] if hist else None,
        "adapter_dir": str(Path(spec.output_dir)), "base_model": spec.base_model,
        "hyperparameters": job.hp.to_dict(), "history": hist,
    }
    # Scalars only, for Dagster metadata (the history stays in "history").
    metrics["summary"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and v is not None}
    return metrics
