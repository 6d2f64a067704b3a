"""The SRL trainer (arXiv 2510.25992): TRL's GRPOTrainer + a LoRA adapter + dynamic sampling + a KL bound.

What it adds to ``trl.GRPOTrainer`` (trl 1.16):

- **Dynamic sampling** (``SRLTrainer._generate_and_score_completions``). After a generation batch is
  scored, every group (the ``num_generations`` completions of one prompt) whose reward standard
  deviation is <= ``dynamic_sampling_epsilon`` carries no learning signal and is *dropped*. Fresh
  prompts are drawn from the training set, generated and scored until the batch holds as many
  informative groups as it should, or until ``max_extra_generation_rounds`` extra rounds have been
  spent; then the batch is filled by re-using kept groups (reported as ``padded_groups``). That is
  not the same as zeroing the advantages of flat groups (what plain GRPO effectively does): the
  batch keeps its size in *informative* groups. Reported per step: ``filter_rate`` (dropped /
  scored groups), ``extra_generations`` (completions generated beyond the base batch),
  ``extra_rounds`` and ``padded_groups``.
- **Group z-score** advantages (``scale_rewards="group"``), PPO clip ``epsilon`` 0.2, the KL to the
  base model (for a fresh LoRA adapter the reference is the adapter-disabled base) measured at
  every step, and an **adaptive KL coefficient** (:class:`AdaptiveKLController`): beta is raised
  when the measured KL exceeds the target (0.1), relaxed back towards its floor when far below, and
  training stops cleanly with status ``kl_bound_exceeded`` when the KL stays above
  ``kl_stop_multiple`` x target for ``kl_stop_patience`` consecutive steps.
- **Atomic checkpoints** (``checkpoints.py``), routed through the Trainer's ``_save_checkpoint``.

:func:`run_srl` is the whole job for one :class:`~.job_spec.TrainingJobSpec`: load, (resume,) train,
save the adapter and ``metrics.json``, and score the validation split (greedy, SRL reward) for the
base and for the trained model.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import nanstd

from ..artifacts import atomic_write_json
from .checkpoints import CheckpointManager, CheckpointTriggerCallback, save_trainer_checkpoint
from .generation import add_step_stop, cut_after_step, generate_steps
from .hyperparameters import Hyperparameters, load_profile_config, resolve
from .job_spec import TrainingJobSpec
from .reward_variants import REWARDS, reward_function
from .rewards import srl_reward

CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "training" / "srl.yaml"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

STATUS_COMPLETED = "completed"
STATUS_KL_BOUND = "kl_bound_exceeded"
STATUS_TIME_LIMIT = "time_limit"
TERMINAL_STATUSES = (STATUS_COMPLETED, STATUS_KL_BOUND)

# Tensors of a generation batch that dynamic sampling knows how to select and re-pad.
_LEFT_PADDED = {"prompt_ids": "pad", "prompt_mask": 0}
_RIGHT_PADDED = {"completion_ids": "pad", "completion_mask": 0, "tool_mask": 1, "old_per_token_logps": 0.0,
                 "ref_per_token_logps": 0.0, "sampling_per_token_logps": 0.0, "importance_sampling_ratio": 1.0}


# ------------------------------------------------------------------------------------------------
# Hyperparameters
# ------------------------------------------------------------------------------------------------
@dataclass
class SRLHyperparameters(Hyperparameters):
    """Every knob of an SRL run; ``configs/training/srl.yaml`` holds the per-profile values."""

    label: ClassVar[str] = "SRL"

    learning_rate: float = 1e-4
    lr_scheduler_type: str = "constant"
    warmup_steps: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    num_generations: int = 4              # rollouts per prompt (G)
    batch_prompts: int = 2                # prompts (groups) per optimizer step
    micro_batch_size: int = 8             # completions per forward/backward pass and device
    temperature: float = 1.0
    top_p: float = 1.0
    max_completion_length: int = 64
    loss_type: str = "grpo"
    epsilon: float = 0.2                  # PPO clip
    scale_rewards: str = "group"          # group z-score
    beta: float = 0.04                    # initial KL coefficient (> 0: the KL is measured every step)
    kl_target: float = 0.1
    kl_adaptive: bool = True
    kl_adapt_factor: float = 1.5
    beta_min: float | None = None         # default: the initial beta
    beta_max: float = 10.0
    kl_stop_multiple: float = 2.0
    kl_stop_patience: int = 3
    dynamic_sampling: bool = True
    dynamic_sampling_epsilon: float = 1e-4
    max_extra_generation_rounds: int = 3
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    prompt_format: str = "auto"           # auto | text | chat (chat when the tokenizer has a template)
    bf16: bool = False
    gradient_checkpointing: bool = False
    use_vllm: bool = False
    validation_examples: int = 16
    validation_max_new_tokens: int = 64
    validation_batch_size: int = 8
    stop_after_step: bool = True          # generation stops at the newline that ends the step line
    torch_threads: int | None = None      # None: torch's default (all cores)
    reward: str = "paper"                 # paper (difflib over the whole step) | decision (training/reward_variants.py)

    def validate(self) -> None:
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2 (GRPO needs a group)")
        if self.beta <= 0:
            raise ValueError("beta must be > 0: the KL to the base model is measured and bounded every step")
        if self.scale_rewards != "group":
            raise ValueError("SRL uses group z-score normalisation: scale_rewards must be 'group'")
        if self.prompt_format not in ("auto", "text", "chat"):
            raise ValueError("prompt_format must be auto, text or chat")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}")

def load_srl_config(profile: str = "local", path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The hyperparameters of a profile in ``configs/training/srl.yaml`` (top-level key per profile)."""
    return load_profile_config(profile, path)


def resolve_hyperparameters(spec_hp: dict[str, Any], cls: type = SRLHyperparameters, path: Path = CONFIG_PATH):
    """The spec's hyperparameters over the named profile of ``path`` (``profile`` key, default ``local``)."""
    return resolve(spec_hp, cls, path)


# ------------------------------------------------------------------------------------------------
# Reward
# ------------------------------------------------------------------------------------------------
def _completion_text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return str(completion[-1].get("content", "")) if completion else ""
    return str(completion)


def srl(completions: list[Any], target: list[str], **kwargs: Any) -> list[float]:
    """The GRPO reward function: SRL reward of each completion against its expert step (``target``
    column of the dataset, passed by TRL as a keyword argument). Named ``srl`` so TRL logs
    ``rewards/srl/mean``."""
    return [srl_reward(_completion_text(c), t) for c, t in zip(completions, target)]


def srl_reward_func(name: str) -> Callable[..., list[float]]:
    """The GRPO reward function for the ``reward`` hyperparameter (``paper`` is :func:`srl`); named
    ``srl`` either way so TRL logs ``rewards/srl/mean``."""
    if name == "paper":
        return srl
    fn = reward_function(name)

    def srl_variant(completions: list[Any], target: list[str], **kwargs: Any) -> list[float]:
        return [fn(_completion_text(c), t) for c, t in zip(completions, target)]

    srl_variant.__name__ = "srl"
    return srl_variant


# ------------------------------------------------------------------------------------------------
# KL bound
# ------------------------------------------------------------------------------------------------
class AdaptiveKLController:
    """Keeps the measured KL (per-token, to the base model) at or below ``target``.

    After each step: KL > target -> beta *= factor (up to beta_max); KL < target / (2 * factor) ->
    beta /= factor (down to beta_min, by default the initial beta). KL > stop_multiple * target for
    ``patience`` consecutive steps -> status ``kl_bound_exceeded`` (the caller stops cleanly).
    With ``adaptive=False`` beta is fixed but the bound still stops the run.
    """

    def __init__(self, beta: float, target: float = 0.1, factor: float = 1.5, beta_min: float | None = None,
                 beta_max: float = 10.0, stop_multiple: float = 2.0, patience: int = 3, adaptive: bool = True):
        if beta <= 0 or target <= 0 or factor <= 1:
            raise ValueError("beta and target must be > 0 and factor > 1")
        self.beta = float(beta)
        self.target = float(target)
        self.factor = float(factor)
        self.beta_min = float(beta if beta_min is None else beta_min)
        self.beta_max = float(beta_max)
        self.stop_multiple = float(stop_multiple)
        self.patience = int(patience)
        self.adaptive = adaptive
        self.over_streak = 0
        self.status: str | None = None
        self.last_kl: float | None = None

    def update(self, kl: float | None) -> str | None:
        """Feed one step's KL; returns ``kl_bound_exceeded`` when training must stop."""
        if kl is None or not math.isfinite(kl):
            return self.status
        self.last_kl = float(kl)
        if self.adaptive:
            if kl > self.target:
                self.beta = min(self.beta * self.factor, self.beta_max)
            elif kl < self.target / (2 * self.factor):
                self.beta = max(self.beta / self.factor, self.beta_min)
        self.over_streak = self.over_streak + 1 if kl > self.stop_multiple * self.target else 0
        if self.over_streak >= self.patience:
            self.status = STATUS_KL_BOUND
        return self.status

    def state_dict(self) -> dict[str, Any]:
        return {"beta": self.beta, "over_streak": self.over_streak, "status": self.status, "last_kl": self.last_kl}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.beta = float(state.get("beta", self.beta))
        self.over_streak = int(state.get("over_streak", 0))
        self.status = state.get("status")
        self.last_kl = state.get("last_kl")


class KLControlCallback(TrainerCallback):
    """After every optimizer step: feed the step's KL to the controller, set the next step's beta,
    stop cleanly on ``kl_bound_exceeded``. Must be registered before the checkpoint trigger so the
    stopping step is checkpointed."""

    def __init__(self, trainer: "SRLTrainer"):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        tr = self.trainer
        window, tr._kl_window = tr._kl_window, []
        kl = sum(window) / len(window) if window else None
        tr._step_kl, tr._step_beta = kl, tr.beta
        if tr.kl_controller is None:
            return control
        status = tr.kl_controller.update(kl)
        tr.beta = tr.kl_controller.beta
        if status == STATUS_KL_BOUND:
            tr.status = STATUS_KL_BOUND
            control.should_training_stop = True
        return control


# ------------------------------------------------------------------------------------------------
# The trainer
# ------------------------------------------------------------------------------------------------
class SRLTrainer(GRPOTrainer):
    """``GRPOTrainer`` with dynamic sampling, an adaptive KL bound, per-step history and atomic checkpoints."""

    def __init__(self, *args: Any, dynamic_sampling: bool = True, dynamic_sampling_epsilon: float = 1e-4,
                 max_extra_generation_rounds: int = 3, kl_controller: AdaptiveKLController | None = None,
                 checkpoint_manager: CheckpointManager | None = None,
                 on_step: Callable[[dict[str, Any]], None] | None = None, stop_after_step: bool = True,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stop_after_step = stop_after_step
        if stop_after_step:
            add_step_stop(self.accelerator.unwrap_model(self.model), self._tokenizer)
        self.dynamic_sampling = dynamic_sampling
        self.dynamic_sampling_epsilon = float(dynamic_sampling_epsilon)
        self.max_extra_generation_rounds = int(max_extra_generation_rounds)
        self.kl_controller = kl_controller
        if kl_controller is not None:
            self.beta = kl_controller.beta
        self.checkpoint_manager = checkpoint_manager
        self.on_step = on_step
        self.status: str | None = None
        self.history: list[dict[str, Any]] = []
        self.resumed_from: list[int] = []
        self.elapsed_before = 0.0                # training seconds of earlier (killed) runs
        self.dynamic_totals = {"steps": 0, "scored_groups": 0, "dropped_groups": 0, "kept_groups": 0,
                               "padded_groups": 0, "extra_generations": 0, "base_generations": 0}
        self._kl_window: list[float] = []
        self._step_kl: float | None = None
        self._step_beta: float | None = None
        self._step_dynamic: dict[str, float] = {}
        self._last_rewards_per_func: torch.Tensor | None = None
        self._clock_start = time.perf_counter()
        self._last_record_time = self._clock_start
        self._last_record_tokens: int | None = None
        self.add_callback(KLControlCallback(self))

    # ---- state that goes into checkpoints ------------------------------------------------------
    def srl_state(self) -> dict[str, Any]:
        return {
            "status": self.status, "history": self.history, "resumed_from": self.resumed_from,
            "dynamic_totals": self.dynamic_totals, "beta": self.beta,
            "kl_controller": self.kl_controller.state_dict() if self.kl_controller else None,
            "elapsed_s": self.elapsed_before + (time.perf_counter() - self._clock_start),
        }

    def load_srl_state(self, state: dict[str, Any]) -> None:
        status = state.get("status")
        self.status = status if status in TERMINAL_STATUSES else None
        self.history = list(state.get("history") or [])
        self.resumed_from = list(state.get("resumed_from") or [])
        self.dynamic_totals.update(state.get("dynamic_totals") or {})
        if self.kl_controller is not None and state.get("kl_controller"):
            self.kl_controller.load_state_dict(state["kl_controller"])
            self.beta = self.kl_controller.beta
        elif state.get("beta") is not None:
            self.beta = float(state["beta"])
        self.elapsed_before = float(state.get("elapsed_s") or 0.0)

    def _save_checkpoint(self, model, trial):
        if self.checkpoint_manager is None:
            return super()._save_checkpoint(model, trial)
        save_trainer_checkpoint(self, self.checkpoint_manager, self.srl_state())

    # ---- KL measured every step ----------------------------------------------------------------
    def training_step(self, model, inputs, num_items_in_batch):
        before = len(self._metrics["train"].get("kl", ()))
        out = super().training_step(model, inputs, num_items_in_batch)
        kl = self._metrics["train"].get("kl", ())
        if len(kl) > before:
            self._kl_window.append(float(kl[-1]))
        return out

    # ---- per-step history / progress -----------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        training = self.model.training and "loss" in logs
        super().log(logs, start_time)  # TRL merges its averaged metrics into `logs` in place
        if not training:
            return
        now = time.perf_counter()
        tokens = self.state.num_input_tokens_seen
        if self._last_record_tokens is None:  # first step of this train() call (maybe a resumed one)
            self._last_record_tokens = getattr(self, "_initial_num_input_tokens_seen", 0)
        seconds = now - self._last_record_time
        d_tokens = tokens - self._last_record_tokens
        dyn = self._step_dynamic
        record = {
            "step": self.state.global_step,
            "loss": _num(logs.get("loss")),
            "reward_mean": _num(logs.get("reward")),
            "reward_std": _num(logs.get("reward_std")),
            "kl": _num(self._step_kl if self._step_kl is not None else logs.get("kl")),
            "beta": _num(self._step_beta if self._step_beta is not None else self.beta),
            "beta_next": _num(self.beta),
            "filter_rate": _num(dyn.get("filter_rate", 0.0)),
            "extra_generations": int(dyn.get("extra_generations", 0)),
            "extra_rounds": int(dyn.get("extra_rounds", 0)),
            "padded_groups": int(dyn.get("padded_groups", 0)),
            "tokens_per_s": _num(d_tokens / seconds if seconds > 0 else None),
            "seconds": round(seconds, 4),
            "elapsed_s": round(self.elapsed_before + now - self._clock_start, 3),
            "learning_rate": _num(logs.get("learning_rate")),
            "grad_norm": _num(logs.get("grad_norm")),
            "completion_length": _num(logs.get("completions/mean_length")),
            **self._extra_record(logs),
        }
        self._last_record_time, self._last_record_tokens = now, tokens
        self._step_dynamic, self._step_kl, self._step_beta = {}, None, None
        self.history = [h for h in self.history if h["step"] < record["step"]] + [record]
        if self.on_step is not None:
            self.on_step(record)

    def _extra_record(self, logs: dict[str, float]) -> dict[str, Any]:
        """Stage-specific fields of a history record (RLVR adds its plan success rate)."""
        return {}

    def train(self, *args: Any, **kwargs: Any):
        self._clock_start = self._last_record_time = time.perf_counter()
        self._last_record_tokens = None
        return super().train(*args, **kwargs)

    # ---- stop at the end of the step ------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        completion_ids, logprobs = super()._generate_single_turn(prompt_ids, images, multimodal_fields,
                                                                 num_generations, has_tool_images)
        if self.stop_after_step:  # rows that stopped early were padded while the others went on
            completion_ids = [cut_after_step(ids, self._tokenizer) for ids in completion_ids]
            if logprobs is not None:
                logprobs = [lp[: len(ids)] for lp, ids in zip(logprobs, completion_ids)]
        return completion_ids, logprobs

    # ---- dynamic sampling ----------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _local_group_std(self, n_local: int) -> torch.Tensor:
        """Per-group reward std of this process's slice of the last scored batch."""
        rpf = self._last_rewards_per_func
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rpf).all(dim=1)] = torch.nan
        start = self.accelerator.process_index * n_local
        local = rewards[start:start + n_local]
        return nanstd(local.view(-1, self.num_generations), dim=1).nan_to_num(0.0)

    def _fresh_inputs(self, n_groups: int, round_no: int) -> list[dict[str, Any]]:
        """``n_groups`` prompts drawn from the training set, each repeated ``num_generations`` times.
        Deterministic in (seed, step, round, process), so a resumed run draws the same prompts."""
        ds = self.train_dataset
        if ds is None or not hasattr(ds, "__getitem__"):
            raise TypeError("dynamic sampling needs a map-style training dataset")
        rng = random.Random(f"srl-dynamic:{self.args.seed}:{self.state.global_step}:{round_no}:"
                            f"{self.accelerator.process_index}")
        picks = [rng.randrange(len(ds)) for _ in range(n_groups)]
        return [dict(ds[i]) for i in picks for _ in range(self.num_generations)]

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        G = self.num_generations
        if mode != "train":
            return super()._generate_and_score_completions(inputs)
        n_local = len(inputs)
        if n_local % G:
            raise ValueError(f"the local generation batch ({n_local}) must hold whole groups of {G}")
        n_groups = n_local // G
        eps = self.dynamic_sampling_epsilon

        out = super()._generate_and_score_completions(inputs)
        std = self._local_group_std(n_local)
        flat = std <= eps
        stats = {"scored_groups": n_groups, "dropped_groups": int(flat.sum()), "extra_generations": 0,
                 "extra_rounds": 0, "padded_groups": 0}
        if not self.dynamic_sampling:
            self._record_dynamic(stats, n_groups, kept_groups=n_groups - int(flat.sum()))
            return out

        parts = [(out, [g for g in range(n_groups) if not flat[g]])]
        kept = len(parts[0][1])
        rounds = 0
        while True:
            deficit = torch.tensor([n_groups - kept], device=self.accelerator.device)
            global_deficit = int(self.accelerator.gather(deficit).max())  # every process runs the same rounds
            if global_deficit <= 0 or rounds >= self.max_extra_generation_rounds:
                break
            rounds += 1
            fresh = self._fresh_inputs(global_deficit, rounds)
            extra = super()._generate_and_score_completions(fresh)
            std = self._local_group_std(len(fresh))
            good = [g for g in range(global_deficit) if std[g] > eps]
            stats["scored_groups"] += global_deficit
            stats["dropped_groups"] += global_deficit - len(good)
            stats["extra_generations"] += global_deficit * G
            take = good[: max(0, n_groups - kept)]
            if take:
                parts.append((extra, take))
                kept += len(take)
        stats["extra_rounds"] = rounds
        real_kept = kept
        if kept == 0:
            # Nothing informative even after the extra rounds: train on the original batch (its flat
            # groups have ~zero advantages, so only the KL term acts) and report the whole batch padded.
            stats["padded_groups"] = n_groups
            self._record_dynamic(stats, n_groups, kept_groups=0)
            return out
        selection = [(p, g) for p, groups in parts for g in groups]
        i = 0
        while len(selection) < n_groups:  # cap hit: re-use kept groups to fill the batch
            selection.append(selection[i])
            i += 1
            stats["padded_groups"] += 1
        self._record_dynamic(stats, n_groups, kept_groups=real_kept)
        return self._assemble(selection)

    def _record_dynamic(self, stats: dict[str, int], n_groups: int, kept_groups: int) -> None:
        G = self.num_generations
        t = self.dynamic_totals
        t["steps"] += 1
        t["scored_groups"] += stats["scored_groups"]
        t["dropped_groups"] += stats["dropped_groups"]
        t["kept_groups"] += kept_groups
        t["padded_groups"] += stats["padded_groups"]
        t["extra_generations"] += stats["extra_generations"]
        t["base_generations"] += n_groups * G
        filter_rate = stats["dropped_groups"] / max(1, stats["scored_groups"])
        step = {"filter_rate": filter_rate, "extra_generations": stats["extra_generations"],
                "extra_rounds": stats["extra_rounds"], "padded_groups": stats["padded_groups"]}
        # one generation batch per optimizer step in our configs; accumulate if there are several
        for k, v in step.items():
            self._step_dynamic[k] = (self._step_dynamic.get(k, 0) + v) if k != "filter_rate" else v
        m = self._metrics["train"]
        m["dynamic/filter_rate"].append(filter_rate)
        m["dynamic/extra_generations"].append(float(stats["extra_generations"]))
        m["dynamic/extra_rounds"].append(float(stats["extra_rounds"]))
        m["dynamic/padded_groups"].append(float(stats["padded_groups"]))
        m["dynamic/generations_per_kept_group"].append(
            stats["scored_groups"] * G / kept_groups if kept_groups else float("nan"))

    def _assemble(self, selection: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
        """One batch from (scored batch, group index) pairs, re-padded to common lengths."""
        G = self.num_generations
        pad_id = self._tokenizer.pad_token_id
        keys = set(selection[0][0])
        unsupported = keys - set(_LEFT_PADDED) - set(_RIGHT_PADDED) - {"advantages", "num_items_in_batch"}
        if unsupported:
            raise NotImplementedError(f"dynamic sampling does not support batch fields {sorted(unsupported)} "
                                      "(multimodal inputs); set dynamic_sampling: false")
        out: dict[str, Any] = {}
        for key in keys - {"num_items_in_batch"}:
            rows = [part[key][g * G:(g + 1) * G] for part, g in selection]
            if key == "advantages" or rows[0].dim() == 1:
                out[key] = torch.cat(rows, dim=0)
                continue
            width = max(r.size(1) for r in rows)
            if key in _LEFT_PADDED:
                value, side = _LEFT_PADDED[key], "left"
            else:
                value, side = _RIGHT_PADDED[key], "right"
            value = pad_id if value == "pad" else value
            padded = []
            for r in rows:
                missing = width - r.size(1)
                if missing:
                    filler = torch.full((r.size(0), missing), value, dtype=r.dtype, device=r.device)
                    r = torch.cat([filler, r] if side == "left" else [r, filler], dim=1)
                padded.append(r)
            out[key] = torch.cat(padded, dim=0)
        mask = out["completion_mask"] if "tool_mask" not in out else out["completion_mask"] * out["tool_mask"]
        out["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        return out


# The KL bound is checked on the mean of KL_WINDOW consecutive steps. A step's KL is TRL's k3
# estimate on the sampled tokens: one token the policy sampled at low probability but the
# reference likes gives exp(log q - log p) and a one-step spike (seen: 0.58 between steps of 0.05),
# which is estimator noise, not drift; a drift shows in the window mean.
KL_WINDOW = 3


def _window_max(values: list[float], window: int) -> float | None:
    if not values:
        return None
    w = min(window, len(values))
    return max(sum(values[i - w:i]) / w for i in range(w, len(values) + 1))


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ------------------------------------------------------------------------------------------------
# Data, models, evaluation
# ------------------------------------------------------------------------------------------------
def load_srl_examples(path: str | Path) -> list[dict[str, Any]]:
    """The SRL dataset artifact (``{"examples": [...]}``, as the ``srl_dataset`` asset writes) or a bare list."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    examples = data["examples"] if isinstance(data, dict) else data
    if not isinstance(examples, list):
        raise ValueError(f"{path}: expected a list of SRL examples or a mapping with 'examples'")
    for e in examples[:1]:
        missing = {"prompt", "target", "split"} - set(e)
        if missing:
            raise ValueError(f"{path}: SRL examples need fields prompt, target, split; missing {sorted(missing)}")
    return examples


def use_chat(tokenizer: Any, prompt_format: str) -> bool:
    if prompt_format == "auto":
        return bool(getattr(tokenizer, "chat_template", None))
    return prompt_format == "chat"


def to_train_dataset(examples: list[dict[str, Any]], chat: bool):
    from datasets import Dataset

    rows = [{"prompt": [{"role": "user", "content": e["prompt"]}] if chat else e["prompt"], "target": e["target"]}
            for e in examples]
    return Dataset.from_list(rows)


def lora_config(hp: SRLHyperparameters):
    from peft import LoraConfig

    return LoraConfig(r=hp.lora_r, lora_alpha=hp.lora_alpha, lora_dropout=hp.lora_dropout,
                      target_modules=list(hp.lora_target_modules), task_type="CAUSAL_LM", bias="none")


def mean_srl_reward(model: Any, tokenizer: Any, examples: list[dict[str, Any]], max_new_tokens: int = 64,
                    batch_size: int = 8, chat: bool = False, reward: str = "paper") -> float | None:
    """Greedy generation (stopped after the step) on ``examples`` and the mean SRL reward (the
    ``reward`` variant) against their expert steps."""
    if not examples:
        return None
    fn = reward_function(reward)
    outs = generate_steps(model, tokenizer, [e["prompt"] for e in examples], max_new_tokens=max_new_tokens,
                          batch_size=batch_size, chat=chat)
    return sum(fn(text, e["target"]) for (text, _), e in zip(outs, examples)) / len(examples)


def _load_model(base_model: str):
    from .base_models import load_base_model

    return load_base_model(base_model)


def build_grpo_config(spec: TrainingJobSpec, hp: SRLHyperparameters, world_size: int = 1) -> GRPOConfig:
    completions = hp.batch_prompts * hp.num_generations
    per_step = hp.micro_batch_size * world_size
    if completions % per_step:
        raise ValueError(f"batch_prompts*num_generations ({completions}) must be a multiple of "
                         f"micro_batch_size*world_size ({per_step})")
    grad_accum = completions // per_step
    return GRPOConfig(
        output_dir=str(Path(spec.checkpoint_dir)),  # HF writes nothing else there (save_strategy="no")
        max_steps=spec.max_steps, seed=spec.seed, data_seed=spec.seed,
        learning_rate=hp.learning_rate, lr_scheduler_type=hp.lr_scheduler_type, warmup_steps=hp.warmup_steps,
        weight_decay=hp.weight_decay, max_grad_norm=hp.max_grad_norm,
        per_device_train_batch_size=hp.micro_batch_size, gradient_accumulation_steps=grad_accum,
        num_generations=hp.num_generations, temperature=hp.temperature, top_p=hp.top_p,
        max_completion_length=hp.max_completion_length, loss_type=hp.loss_type, epsilon=hp.epsilon,
        scale_rewards=hp.scale_rewards, beta=hp.beta,
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        bf16=hp.bf16, gradient_checkpointing=hp.gradient_checkpointing, use_vllm=hp.use_vllm,
        use_cpu=not torch.cuda.is_available(), remove_unused_columns=False, dataloader_num_workers=0,
        log_completions=False,
    )


# ------------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------------
class Reporter:
    """Where progress goes (stdout JSON lines, Dagster Pipes, a list in tests). No-op base."""

    def log(self, message: str) -> None: ...

    def step(self, record: dict[str, Any]) -> None: ...

    def event(self, name: str, payload: dict[str, Any]) -> None: ...


class TimeLimitReached(RuntimeError):
    """The job's ``max_runtime_minutes`` ran out; a checkpoint was written; rerun to resume."""


def run_srl(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one SRL job and return its final metrics (also written to
    ``<output_dir>/metrics.json`` next to the PEFT adapter).

    Raises :class:`TimeLimitReached` when ``spec.max_runtime_minutes`` stops the run (checkpoint saved).
    A KL-bound stop is *not* an exception: the adapter and metrics are written with
    ``status == "kl_bound_exceeded"`` and the caller decides.
    """
    if spec.stage != "srl":
        raise ValueError(f"run_srl got a {spec.stage!r} job")
    hp = resolve_hyperparameters(spec.hyperparameters)
    examples = load_srl_examples(spec.dataset)
    train = [e for e in examples if e["split"] == "train"]
    validation = [e for e in examples if e["split"] == "validation"][: hp.validation_examples]
    if not train:
        raise ValueError(f"{spec.dataset}: no training examples (split == 'train')")

    def build(model, tokenizer, chat, common):
        return SRLTrainer(reward_funcs=srl_reward_func(hp.reward), train_dataset=to_train_dataset(train, chat),
                          processing_class=tokenizer, **common)

    def score(peft_model, tokenizer, chat):
        gen_kw = dict(max_new_tokens=hp.validation_max_new_tokens, batch_size=hp.validation_batch_size, chat=chat,
                      reward=hp.reward)
        with peft_model.disable_adapter():
            base = mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)
        return {"validation_reward_base": base,
                "validation_reward_trained": mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)}

    return run_grpo_job(spec, hp, reporter, build, score, n_train=len(train), n_validation=len(validation))


def run_grpo_job(spec: TrainingJobSpec, hp: SRLHyperparameters, reporter: Reporter | None,
                 build: Callable[..., SRLTrainer], score: Callable[..., dict[str, Any]], n_train: int,
                 n_validation: int) -> dict[str, Any]:
    """What every GRPO stage (SRL, RLVR) does around its trainer: load the model (and the
    initial adapter), resume from the newest complete checkpoint, train under the KL controller
    and the checkpoint trigger, save the adapter, score validation (``score``) and write
    ``metrics.json``. ``build(model, tokenizer, chat, common_kwargs)`` makes the trainer
    (``common_kwargs`` already holds ``model``)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    reporter = reporter or Reporter()
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        raise NotImplementedError(f"multi-process {spec.stage} training (torchrun/DeepSpeed) is not implemented yet: "
                                  "the checkpoint layer and the outputs are written by a single process")
    if hp.torch_threads:
        torch.set_num_threads(hp.torch_threads)

    manager = CheckpointManager(spec.checkpoint_dir, keep=spec.keep_checkpoints)
    removed = manager.cleanup_incomplete()
    if removed:
        reporter.log(f"ignored and removed {len(removed)} incomplete checkpoint(s): {[p.name for p in removed]}")
    latest = manager.latest()

    model, tokenizer = _load_model(spec.base_model)
    chat = use_chat(tokenizer, hp.prompt_format)
    peft_config = None
    if spec.initial_adapter:
        from peft import PeftModel

        # Trainable copy of the adapter; TRL keeps a frozen copy ("ref") as the KL reference.
        model = PeftModel.from_pretrained(model, spec.initial_adapter, is_trainable=True)
    else:
        peft_config = lora_config(hp)

    controller = AdaptiveKLController(hp.beta, hp.kl_target, hp.kl_adapt_factor, hp.beta_min, hp.beta_max,
                                      hp.kl_stop_multiple, hp.kl_stop_patience, adaptive=hp.kl_adaptive)
    status_box: dict[str, Any] = {}
    trigger = CheckpointTriggerCallback(spec.checkpoint_every_steps, spec.checkpoint_every_minutes,
                                        spec.max_runtime_minutes,
                                        on_time_limit=lambda: status_box.setdefault("status", STATUS_TIME_LIMIT))

    def on_step(record: dict[str, Any]) -> None:
        reporter.step({**record, "max_steps": spec.max_steps})

    common = dict(
        model=model, args=build_grpo_config(spec, hp, world_size), peft_config=peft_config,
        dynamic_sampling=hp.dynamic_sampling, dynamic_sampling_epsilon=hp.dynamic_sampling_epsilon,
        max_extra_generation_rounds=hp.max_extra_generation_rounds, kl_controller=controller,
        checkpoint_manager=manager, on_step=on_step, stop_after_step=hp.stop_after_step)
    trainer = build(model, tokenizer, chat, common)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(trigger)  # after KLControlCallback (added in __init__)

    resume_path = None
    if latest is not None:
        trainer.load_srl_state(manager.read_extra_state(latest))
        trainer.resumed_from.append(latest.step)
        resume_path = str(latest.path)
        reporter.event("resumed", {"step": latest.step, "checkpoint": latest.path.name})
        reporter.log(f"resuming from {latest.path.name} (step {latest.step})")

    done = latest is not None and (latest.step >= spec.max_steps or trainer.status in TERMINAL_STATUSES)
    if done:
        trainer._load_from_checkpoint(resume_path)  # weights only: nothing left to train
        trainer.state.global_step = latest.step
    else:
        reporter.event("started", {"max_steps": spec.max_steps, "train_examples": n_train,
                                   "validation_examples": n_validation, "resume_step": latest.step if latest else 0})
        trainer.train(resume_from_checkpoint=resume_path)
        if status_box.get("status") == STATUS_TIME_LIMIT and trainer.status != STATUS_KL_BOUND:
            trainer.status = STATUS_TIME_LIMIT
            raise TimeLimitReached(f"max_runtime_minutes={spec.max_runtime_minutes} reached at step "
                                   f"{trainer.state.global_step}/{spec.max_steps}; checkpoint written to "
                                   f"{spec.checkpoint_dir}; rerun the same spec to resume")
    if trainer.status is None:
        trainer.status = STATUS_COMPLETED

    # Outputs: the adapter (PEFT, safetensors), then metrics.json last.
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True, selected_adapters=["default"])

    reporter.log(f"scoring {n_validation} validation items (greedy) for the reference and the trained model")
    scores = score(peft_model, tokenizer, chat)
    metrics = summarize(trainer, spec, hp, scores, n_train, n_validation)
    atomic_write_json(out_dir / "metrics.json", metrics)
    reporter.event("finished", {k: v for k, v in metrics.items() if k not in ("history", "hyperparameters")})
    return metrics


def summarize(trainer: SRLTrainer, spec: TrainingJobSpec, hp: SRLHyperparameters, scores: dict[str, Any],
              n_train: int, n_validation: int) -> dict[str, Any]:
    t = trainer.dynamic_totals
    hist = trainer.history
    kls = [h["kl"] for h in hist if h.get("kl") is not None]
    tps = [h["tokens_per_s"] for h in hist if h.get("tokens_per_s")]
    metrics = {
        "stage": spec.stage, "species": spec.species, "tier": spec.tier, "status": trainer.status,
        "global_step": int(trainer.state.global_step), "max_steps": spec.max_steps,
        "resumed_from": trainer.resumed_from,
        **scores,
        "validation_examples": n_validation, "train_examples": n_train,
        "reward_mean_last": hist[-1]["reward_mean"] if hist else None,
        "kl_last": kls[-1] if kls else None, "kl_max": max(kls) if kls else None, "kl_target": hp.kl_target,
        "kl_window": KL_WINDOW, "kl_window_max": _window_max(kls, KL_WINDOW),
        "beta_final": float(trainer.beta),
        "filter_rate": t["dropped_groups"] / t["scored_groups"] if t["scored_groups"] else None,
        "extra_generations": t["extra_generations"],
        "extra_generation_cost": t["extra_generations"] / t["base_generations"] if t["base_generations"] else None,
        "generations_per_kept_group": (t["scored_groups"] * hp.num_generations / t["kept_groups"]
                                       if t["kept_groups"] else None),
        "padded_groups": t["padded_groups"], "dynamic_sampling": hp.dynamic_sampling,
        "tokens_per_s_mean": sum(tps) / len(tps) if tps else None,
        "train_seconds": hist[-1]["elapsed_s"] if hist else None,
        "adapter_dir": str(Path(spec.output_dir)), "base_model": spec.base_model,
        "hyperparameters": hp.to_dict(), "history": hist,
    }
    # Scalars only, for Dagster metadata (the history stays in "history").
    metrics["summary"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and v is not None}
    return metrics
