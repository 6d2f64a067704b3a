"""The SFT baseline of the SRL paper (arXiv 2510.25992): supervised fine-tuning on the expert steps.

Why: the paper compares SRL with plain SFT on the *same* expert data. This stage trains on exactly
the examples SRL sees (the ``srl_dataset`` artifact: prompt = scenario, lore and the expert's steps
so far; target = the expert's next step), so any difference between the two adapters comes from the
objective (next-token likelihood of the expert step vs. SRL's step-similarity reward), not the data.

Each example becomes a prompt-completion pair in the base models' own completion format (the
warm-up corpus, :mod:`.warmup_corpus`): the prompt, then ``"\\n<think>{one template sentence naming
the species and the action}</think>\\n{expert step}"``. The expert trajectories carry no reasoning,
so the think is the warm-up corpus' template sentence; the loss is on the completion only.

TRL's ``SFTTrainer`` (trl 1.16) with a fresh LoRA adapter does the training; :class:`SFTTrainer`
adds a per-step history and routes saves through the atomic checkpoints of :mod:`.checkpoints`, as
``SRLTrainer`` does. :func:`run_sft` is the whole job for one
:class:`~.job_spec.TrainingJobSpec`: load, (resume,) train, save the adapter, score the validation
split (greedy, SRL reward) for the base and for the trained model, and write ``metrics.json``.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from trl import SFTConfig
from trl import SFTTrainer as _TRLSFTTrainer

from ..artifacts import atomic_write_json
from ..game.steps import parse_step
from .checkpoints import CheckpointManager, CheckpointTriggerCallback, save_trainer_checkpoint
from .hyperparameters import Hyperparameters, load_profile_config, resolve
from .job_spec import TrainingJobSpec
from .srl_trainer import (
    LORA_TARGETS, STATUS_COMPLETED, STATUS_TIME_LIMIT, Reporter, TimeLimitReached, _load_model, _num,
    load_srl_examples, lora_config, mean_srl_reward, use_chat,
)
from .warmup_corpus import THOUGHTS

CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "training" / "sft.yaml"
TERMINAL_STATUSES = (STATUS_COMPLETED,)


# ------------------------------------------------------------------------------------------------
# Hyperparameters
# ------------------------------------------------------------------------------------------------
@dataclass
class SFTHyperparameters(Hyperparameters):
    """Every knob of an SFT run; ``configs/training/sft.yaml`` holds the per-profile values."""

    label: ClassVar[str] = "SFT"

    learning_rate: float = 1e-3
    lr_scheduler_type: str = "constant"
    warmup_steps: float = 0.0             # a ratio of max_steps when < 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    batch_size: int = 8                   # examples per optimizer step
    micro_batch_size: int = 8             # examples per forward/backward pass and device
    max_length: int = 1024                # prompt + completion tokens (longer ones are cut at the end)
    loss_type: str = "nll"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    prompt_format: str = "auto"           # auto | text | chat (chat when the tokenizer has a template)
    bf16: bool = False
    gradient_checkpointing: bool = False
    validation_examples: int = 16
    validation_max_new_tokens: int = 64
    validation_batch_size: int = 8
    torch_threads: int | None = None      # None: torch's default (all cores)

    def validate(self) -> None:
        if self.prompt_format not in ("auto", "text", "chat"):
            raise ValueError("prompt_format must be auto, text or chat")
        if self.batch_size < 1 or self.micro_batch_size < 1:
            raise ValueError("batch_size and micro_batch_size must be >= 1")


def load_sft_config(profile: str = "local", path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The hyperparameters of a profile in ``configs/training/sft.yaml`` (top-level key per profile)."""
    return load_profile_config(profile, path)


def resolve_sft_hyperparameters(spec_hp: dict[str, Any]) -> SFTHyperparameters:
    """The spec's hyperparameters over the named profile (``profile`` key, default ``local``)."""
    return resolve(spec_hp, SFTHyperparameters, CONFIG_PATH)


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
def sft_completion(example: dict[str, Any], species: str | None = None) -> str:
    """``"\\n<think>{template sentence}</think>\\n{expert step}"``: the warm-up corpus' format, with
    one of its think sentences (chosen deterministically per example) naming the species and the
    expert step's action."""
    target = example["target"]
    action = parse_step(target).action
    species = example.get("species") or species or "creature"
    key = f"{example.get('id', '')}|{example['prompt']}|{target}"
    template = THOUGHTS[zlib.crc32(key.encode("utf-8")) % len(THOUGHTS)]
    thought = template.format(species=species, verb=action.replace("_", " "))
    return f"\n<think>{thought}</think>\n{target}"


def to_sft_dataset(examples: list[dict[str, Any]], chat: bool, species: str | None = None):
    """A prompt-completion ``datasets.Dataset`` (conversational when ``chat``)."""
    from datasets import Dataset

    rows = []
    for e in examples:
        completion = sft_completion(e, species)
        if chat:
            rows.append({"prompt": [{"role": "user", "content": e["prompt"]}],
                         "completion": [{"role": "assistant", "content": completion.lstrip("\n")}]})
        else:
            rows.append({"prompt": e["prompt"], "completion": completion})
    return Dataset.from_list(rows)


def build_sft_config(spec: TrainingJobSpec, hp: SFTHyperparameters, world_size: int = 1) -> SFTConfig:
    per_step = hp.micro_batch_size * world_size
    if hp.batch_size % per_step:
        raise ValueError(f"batch_size ({hp.batch_size}) must be a multiple of micro_batch_size*world_size ({per_step})")
    return SFTConfig(
        output_dir=str(Path(spec.checkpoint_dir)),  # HF writes nothing else there (save_strategy="no")
        max_steps=spec.max_steps, seed=spec.seed, data_seed=spec.seed,
        learning_rate=hp.learning_rate, lr_scheduler_type=hp.lr_scheduler_type, warmup_steps=hp.warmup_steps,
        weight_decay=hp.weight_decay, max_grad_norm=hp.max_grad_norm,
        per_device_train_batch_size=hp.micro_batch_size, gradient_accumulation_steps=hp.batch_size // per_step,
        max_length=hp.max_length, completion_only_loss=True, loss_type=hp.loss_type, packing=False,
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        bf16=hp.bf16, gradient_checkpointing=hp.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
    )


# ------------------------------------------------------------------------------------------------
# The trainer
# ------------------------------------------------------------------------------------------------
class SFTTrainer(_TRLSFTTrainer):
    """TRL's ``SFTTrainer`` with a per-step history and atomic checkpoints (extra state: the history)."""

    def __init__(self, *args: Any, checkpoint_manager: CheckpointManager | None = None,
                 on_step: Callable[[dict[str, Any]], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.checkpoint_manager = checkpoint_manager
        self.on_step = on_step
        self.status: str | None = None
        self.history: list[dict[str, Any]] = []
        self.resumed_from: list[int] = []
        self.elapsed_before = 0.0                # training seconds of earlier (killed) runs
        self._clock_start = self._last_record_time = time.perf_counter()
        self._last_record_tokens = 0

    def sft_state(self) -> dict[str, Any]:
        return {"status": self.status, "history": self.history, "resumed_from": self.resumed_from,
                "elapsed_s": self.elapsed_before + (time.perf_counter() - self._clock_start)}

    def load_sft_state(self, state: dict[str, Any]) -> None:
        self.status = state.get("status") if state.get("status") in TERMINAL_STATUSES else None
        self.history = list(state.get("history") or [])
        self.resumed_from = list(state.get("resumed_from") or [])
        self.elapsed_before = float(state.get("elapsed_s") or 0.0)

    def _save_checkpoint(self, model, trial):
        if self.checkpoint_manager is None:
            return super()._save_checkpoint(model, trial)
        save_trainer_checkpoint(self, self.checkpoint_manager, self.sft_state())

    def train(self, *args: Any, **kwargs: Any):
        self._clock_start = self._last_record_time = time.perf_counter()
        self._last_record_tokens = self._total_train_tokens
        return super().train(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        training = self.model.training and "loss" in logs
        super().log(logs, start_time)  # TRL merges its averaged metrics into `logs` in place
        if not training:
            return
        now = time.perf_counter()
        seconds = now - self._last_record_time
        d_tokens = self._total_train_tokens - self._last_record_tokens
        record = {
            "step": self.state.global_step,
            "loss": _num(logs.get("loss")),
            "learning_rate": _num(logs.get("learning_rate")),
            "grad_norm": _num(logs.get("grad_norm")),
            "mean_token_accuracy": _num(logs.get("mean_token_accuracy")),
            "entropy": _num(logs.get("entropy")),
            "tokens": int(d_tokens),
            "tokens_per_s": _num(d_tokens / seconds if seconds > 0 else None),
            "seconds": round(seconds, 4),
            "elapsed_s": round(self.elapsed_before + now - self._clock_start, 3),
        }
        self._last_record_time, self._last_record_tokens = now, self._total_train_tokens
        self.history = [h for h in self.history if h["step"] < record["step"]] + [record]
        if self.on_step is not None:
            self.on_step(record)


# ------------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------------
def run_sft(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one SFT job and return its final metrics (also written to
    ``<output_dir>/metrics.json`` next to the PEFT adapter).

    Raises :class:`~.srl_trainer.TimeLimitReached` when ``spec.max_runtime_minutes`` stops the run
    (checkpoint saved; rerun the same spec to resume).
    """
    import datasets
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    reporter = reporter or Reporter()
    if spec.stage != "sft":
        raise ValueError(f"run_sft got a {spec.stage!r} job")
    hp = resolve_sft_hyperparameters(spec.hyperparameters)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        raise NotImplementedError("multi-process SFT training is not implemented yet: the checkpoint layer and "
                                  "the outputs are written by a single process")
    if hp.torch_threads:
        torch.set_num_threads(hp.torch_threads)
    examples = load_srl_examples(spec.dataset)
    train = [e for e in examples if e["split"] == "train"]
    validation = [e for e in examples if e["split"] == "validation"][: hp.validation_examples]
    if not train:
        raise ValueError(f"{spec.dataset}: no training examples (split == 'train')")

    manager = CheckpointManager(spec.checkpoint_dir, keep=spec.keep_checkpoints)
    removed = manager.cleanup_incomplete()
    if removed:
        reporter.log(f"ignored and removed {len(removed)} incomplete checkpoint(s): {[p.name for p in removed]}")
    latest = manager.latest()

    model, tokenizer = _load_model(spec.base_model)
    chat = use_chat(tokenizer, hp.prompt_format)
    too_long = [e["id"] for e in train if len(tokenizer(e["prompt"], add_special_tokens=False).input_ids) >= hp.max_length]
    if too_long:  # TRL would cut their whole completion away and train on nothing
        raise ValueError(f"{spec.dataset}: {len(too_long)} of {len(train)} training prompts reach max_length "
                         f"{hp.max_length} tokens (e.g. {too_long[:3]}); raise max_length in configs/training/sft.yaml")
    peft_config = None
    if spec.initial_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec.initial_adapter, is_trainable=True)
    else:
        peft_config = lora_config(hp)

    status_box: dict[str, Any] = {}
    trigger = CheckpointTriggerCallback(spec.checkpoint_every_steps, spec.checkpoint_every_minutes,
                                        spec.max_runtime_minutes,
                                        on_time_limit=lambda: status_box.setdefault("status", STATUS_TIME_LIMIT))
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # stdout/stderr carry progress events, not tqdm bars
    try:
        trainer = SFTTrainer(
            model=model, args=build_sft_config(spec, hp, world_size),
            train_dataset=to_sft_dataset(train, chat, spec.species), processing_class=tokenizer,
            peft_config=peft_config, checkpoint_manager=manager,
            on_step=lambda record: reporter.step({**record, "max_steps": spec.max_steps}),
        )
    finally:
        if bars:
            datasets.enable_progress_bars()
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(trigger)

    resume_path = None
    if latest is not None:
        trainer.load_sft_state(manager.read_extra_state(latest))
        trainer.resumed_from.append(latest.step)
        resume_path = str(latest.path)
        reporter.event("resumed", {"step": latest.step, "checkpoint": latest.path.name})
        reporter.log(f"resuming from {latest.path.name} (step {latest.step})")

    if latest is not None and (latest.step >= spec.max_steps or trainer.status in TERMINAL_STATUSES):
        trainer._load_from_checkpoint(resume_path)  # weights only: nothing left to train
        trainer.state.global_step = latest.step
    else:
        reporter.event("started", {"max_steps": spec.max_steps, "train_examples": len(train),
                                   "validation_examples": len(validation), "resume_step": latest.step if latest else 0})
        trainer.train(resume_from_checkpoint=resume_path)
        if status_box.get("status") == STATUS_TIME_LIMIT:
            trainer.status = STATUS_TIME_LIMIT
            raise TimeLimitReached(f"max_runtime_minutes={spec.max_runtime_minutes} reached at step "
                                   f"{trainer.state.global_step}/{spec.max_steps}; checkpoint written to "
                                   f"{spec.checkpoint_dir}; rerun the same spec to resume")
    trainer.status = STATUS_COMPLETED

    # Outputs: the adapter (PEFT, safetensors), then metrics.json last.
    peft_model = trainer.model
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True, selected_adapters=["default"])

    reporter.log(f"scoring {len(validation)} validation examples (greedy) for base and trained model")
    gen_kw = dict(max_new_tokens=hp.validation_max_new_tokens, batch_size=hp.validation_batch_size, chat=chat)
    with peft_model.disable_adapter():
        val_base = mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)
    val_trained = mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)

    metrics = summarize_sft(trainer, spec, hp, val_base, val_trained, len(train), len(validation))
    atomic_write_json(out_dir / "metrics.json", metrics)
    reporter.event("finished", {k: v for k, v in metrics.items() if k not in ("history", "hyperparameters")})
    return metrics


def summarize_sft(trainer: SFTTrainer, spec: TrainingJobSpec, hp: SFTHyperparameters, val_base: float | None,
                  val_trained: float | None, n_train: int, n_validation: int) -> dict[str, Any]:
    hist = trainer.history
    losses = [h["loss"] for h in hist if h.get("loss") is not None and math.isfinite(h["loss"])]
    tps = [h["tokens_per_s"] for h in hist if h.get("tokens_per_s")]
    metrics = {
        "stage": "sft", "species": spec.species, "tier": spec.tier, "status": trainer.status,
        "global_step": int(trainer.state.global_step), "max_steps": spec.max_steps,
        "resumed_from": trainer.resumed_from,
        "validation_reward_base": val_base, "validation_reward_trained": val_trained,
        "validation_examples": n_validation, "train_examples": n_train,
        "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        "train_seconds": hist[-1]["elapsed_s"] if hist else None,
        "tokens_per_s_mean": sum(tps) / len(tps) if tps else None,
        "adapter_dir": str(Path(spec.output_dir)), "base_model": spec.base_model,
        "hyperparameters": hp.to_dict(), "history": hist,
    }
    # Scalars only, for Dagster metadata (the history stays in "history").
    metrics["summary"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and v is not None}
    return metrics
