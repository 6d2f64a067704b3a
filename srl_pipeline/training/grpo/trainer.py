"""The GRPO trainer every GRPO stage shares: TRL's ``GRPOTrainer`` + a LoRA adapter + dynamic
sampling + an adaptive KL bound + atomic checkpoints + a per-step history.

What it adds to ``trl.GRPOTrainer`` (trl 1.16):

- **Dynamic sampling** (:mod:`.dynamic_sampling` decides, this class generates and assembles).
  After a generation batch is scored, flat groups are dropped and fresh prompts drawn from the
  training set are generated and scored until the batch is full again or the cap is hit. Reported
  per step: ``filter_rate``, ``extra_generations``, ``extra_rounds``, ``padded_groups``. A stage
  whose generation step is not TRL's (RLVR's plan rollouts) reuses the same decision and
  bookkeeping (:meth:`GRPOStageTrainer._record_dynamic`).
- **Group z-score** advantages (``scale_rewards="group"``), PPO clip ``epsilon``, the KL to the
  reference measured at every step and an adaptive KL coefficient (:mod:`.kl_control`): training
  stops cleanly with status ``kl_bound_exceeded`` when the KL stays above the bound.
- **Stop after the step**: generation is cut at the newline that ends the step line.
- **Sampling that does not depend on the number of processes**: each group (the
  ``num_generations`` copies of one prompt) samples from a generator of its own
  (:func:`group_seed`: the run's seed, the step, the generation round, the group's place in the
  *global* batch and its prompt tokens), so one process and ``torchrun`` with N sample the same
  completions for the same prompts (TRL's ``RepeatSampler`` gives rank r the r-th slice of the
  same global batch). All of a process's groups share one ``generate`` call
  (:class:`~..generation.SeededGroupSampling`, the Gumbel-max trick over the warped scores): on
  the tiny CPU models decoding is overhead-bound, so a call per group cost a call's overhead per
  group (``bench/srl_trainer_throughput.py``). Exactly equal runs need
  no group dropped or ``dynamic_sampling: false``: the replacement prompts of dynamic sampling
  (:meth:`GRPOStageTrainer._fresh_inputs`) are drawn per process.
- **State, history and summary** shared with every stage (:class:`~..trainer_state.JobStateMixin`).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, ClassVar

import torch
from trl import GRPOTrainer
from trl.trainer.utils import nanstd, use_adapter

from ..generation import add_step_stop, cut_after_step, merged_lora, render_prompts
from ..job_runner import STATUS_COMPLETED, STATUS_KL_BOUND
from ..decode import generate_batch
from ..shared_prefix import mask_positions, plan_shared_prefixes, prefix_cache
from ..trainer_state import JobStateMixin, finite_or_none
from .dynamic_sampling import DynamicSampling, select_groups
from .menu_groups import EXPLORATIONS, group_prefixes
from .selection import SelectsCheckpoints
from .kl_control import KL_WINDOW, AdaptiveKLController, KLControlCallback, window_max

__all__ = ["GRPOStageTrainer", "grpo_trainer_kwargs"]

# Tensors of a generation batch that dynamic sampling knows how to select and re-pad.
_LEFT_PADDED = {"prompt_ids": "pad", "prompt_mask": 0}
_RIGHT_PADDED = {"completion_ids": "pad", "completion_mask": 0, "tool_mask": 1, "old_per_token_logps": 0.0,
                 "ref_per_token_logps": 0.0, "sampling_per_token_logps": 0.0, "importance_sampling_ratio": 1.0}


def group_seed(seed: int, step: int, round_no: int, position: int, prompt_ids: list[int]) -> int:
    """The sampling seed of one group: stable across processes and runs (no Python ``hash``)."""
    key = f"srl-group:{seed}:{step}:{round_no}:{position}:" + ",".join(map(str, prompt_ids))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 63) - 1)


def grpo_trainer_kwargs(hp: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`GRPOStageTrainer` a stage config (SRL, RLVR) sets."""
    return dict(dynamic_sampling=hp.dynamic_sampling, dynamic_sampling_epsilon=hp.dynamic_sampling_epsilon,
                max_extra_generation_rounds=hp.max_extra_generation_rounds,
                kl_controller=AdaptiveKLController.from_hyperparameters(hp), stop_after_step=hp.stop_after_step,
                menu_constrained=hp.menu_constrained, group_exploration=getattr(hp, "group_exploration", "sample"))


class GRPOStageTrainer(SelectsCheckpoints, JobStateMixin, GRPOTrainer):
    """``GRPOTrainer`` with dynamic sampling, an adaptive KL bound, per-step history and atomic checkpoints."""

    terminal_statuses: ClassVar[tuple[str, ...]] = (STATUS_COMPLETED, STATUS_KL_BOUND)

    def __init__(self, *args: Any, dynamic_sampling: bool = True, dynamic_sampling_epsilon: float = 1e-4,
                 max_extra_generation_rounds: int = 3, kl_controller: AdaptiveKLController | None = None,
                 stop_after_step: bool = True, menu_constrained: bool = False, group_exploration: str = "sample",
                 share_group_prompts: bool = True, chat: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.chat = chat   # prompts go through the chat template (rows this trainer builds itself)
        self.stop_after_step = stop_after_step
        self.menu_constrained = menu_constrained
        if group_exploration not in EXPLORATIONS:
            raise ValueError(f"group_exploration must be one of {', '.join(EXPLORATIONS)}, got {group_exploration!r}")
        self.group_exploration = group_exploration
        self.share_group_prompts = share_group_prompts
        if stop_after_step or menu_constrained:
            add_step_stop(self.accelerator.unwrap_model(self.model), self._tokenizer, stop=stop_after_step,
                          menu_constrained=menu_constrained)
        self.dynamic_sampling = dynamic_sampling
        self.dynamic_sampling_epsilon = float(dynamic_sampling_epsilon)
        self.max_extra_generation_rounds = int(max_extra_generation_rounds)
        self.kl_controller = kl_controller
        if kl_controller is not None:
            self.beta = kl_controller.beta
        self.dynamic_totals = {"steps": 0, "scored_groups": 0, "dropped_groups": 0, "kept_groups": 0,
                               "padded_groups": 0, "extra_generations": 0, "base_generations": 0}
        self._kl_window: list[float] = []
        self._step_kl: float | None = None
        self._step_beta: float | None = None
        self._step_dynamic: dict[str, float] = {}
        self._last_rewards_per_func: torch.Tensor | None = None
        self._generation_round = (-1, 0)   # (global step, generation calls so far at that step)
        self.add_callback(KLControlCallback(self))

    # ---- state that goes into checkpoints ------------------------------------------------------
    def extra_job_state(self) -> dict[str, Any]:
        return {**super().extra_job_state(), "dynamic_totals": self.dynamic_totals, "beta": self.beta,
                "kl_controller": self.kl_controller.state_dict() if self.kl_controller else None}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        super().load_extra_job_state(state)
        self.dynamic_totals.update(state.get("dynamic_totals") or {})
        if self.kl_controller is not None and state.get("kl_controller"):
            self.kl_controller.load_state_dict(state["kl_controller"])
            self.beta = self.kl_controller.beta
        elif state.get("beta") is not None:
            self.beta = float(state["beta"])

    # ---- KL measured every step ----------------------------------------------------------------
    def training_step(self, model, inputs, num_items_in_batch):
        before = len(self._metrics["train"].get("kl", ()))
        out = super().training_step(model, inputs, num_items_in_batch)
        kl = self._metrics["train"].get("kl", ())
        if len(kl) > before:
            self._kl_window.append(float(kl[-1]))
        return out

    # ---- per-step history and summary ----------------------------------------------------------
    def step_record(self, logs: dict[str, float], tokens: int) -> dict[str, Any]:
        dyn = self._step_dynamic
        record = {
            "reward_mean": finite_or_none(logs.get("reward")),
            "reward_std": finite_or_none(logs.get("reward_std")),
            "kl": finite_or_none(self._step_kl if self._step_kl is not None else logs.get("kl")),
            "beta": finite_or_none(self._step_beta if self._step_beta is not None else self.beta),
            "beta_next": finite_or_none(self.beta),
            "filter_rate": finite_or_none(dyn.get("filter_rate", 0.0)),
            "extra_generations": int(dyn.get("extra_generations", 0)),
            "extra_rounds": int(dyn.get("extra_rounds", 0)),
            "padded_groups": int(dyn.get("padded_groups", 0)),
            "completion_length": finite_or_none(logs.get("completions/mean_length")),
            **self._extra_record(logs),
        }
        self._step_dynamic, self._step_kl, self._step_beta = {}, None, None  # this step is recorded
        return record

    def _extra_record(self, logs: dict[str, float]) -> dict[str, Any]:
        """Stage-specific fields of a history record (RLVR adds its plan success rate)."""
        return {}

    def summary_metrics(self, hp: Any) -> dict[str, Any]:
        t = self.dynamic_totals
        hist = self.history
        kls = [h["kl"] for h in hist if h.get("kl") is not None]
        return {
            "reward_mean_last": hist[-1]["reward_mean"] if hist else None,
            "kl_last": kls[-1] if kls else None, "kl_max": max(kls) if kls else None, "kl_target": hp.kl_target,
            "kl_window": KL_WINDOW, "kl_window_max": window_max(kls, KL_WINDOW),
            "beta_final": float(self.beta),
            "filter_rate": t["dropped_groups"] / t["scored_groups"] if t["scored_groups"] else None,
            "extra_generations": t["extra_generations"],
            "extra_generation_cost": t["extra_generations"] / t["base_generations"] if t["base_generations"] else None,
            "generations_per_kept_group": (t["scored_groups"] * hp.num_generations / t["kept_groups"]
                                           if t["kept_groups"] else None),
            "padded_groups": t["padded_groups"], "dynamic_sampling": hp.dynamic_sampling,
            "selection": self.selection_summary(),
        }

    # ---- stop at the end of the step ------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        completion_ids, logprobs = self._generate_per_group(prompt_ids, images, multimodal_fields, num_generations,
                                                            has_tool_images)
        if self.stop_after_step:  # rows that stopped early were padded while the others went on
            completion_ids = [cut_after_step(ids, self._tokenizer) for ids in completion_ids]
            if logprobs is not None:
                logprobs = [lp[: len(ids)] for lp, ids in zip(logprobs, completion_ids)]
        return completion_ids, logprobs

    def _generate_per_group(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images):
        """TRL's generation, one seeded call per group (see the module docstring); TRL's own single
        call where groups cannot be told apart (vLLM, continuous batching, images, ragged batches)."""
        G = num_generations
        step = self.state.global_step
        last_step, calls = self._generation_round
        round_no = calls if last_step == step else 0
        self._generation_round = (step, round_no + 1)
        plain = not (self.use_vllm or getattr(self, "use_transformers_continuous_batching", False)
                     or images is not None and any(i is not None for i in images) or multimodal_fields)
        plain = plain and not self.min_p and self.repetition_penalty in (None, 1.0)
        if not plain or G < 1 or len(prompt_ids) % G or any(
                list(prompt_ids[i]) != list(prompt_ids[i - i % G]) for i in range(len(prompt_ids))):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, G, has_tool_images)
        n_local = len(prompt_ids) // G
        first = self.accelerator.process_index * n_local  # this rank's slice of the global batch
        seeds = [group_seed(self.args.seed, step, round_no, first + g, list(prompt_ids[g * G]))
                 for g in range(n_local)]
        prefixes = targets = None
        if self.group_exploration == "menu":
            prefixes, targets = [], []
            for g in range(n_local):
                prompt = self._tokenizer.decode(list(prompt_ids[g * G]), skip_special_tokens=True)
                for text, calls in group_prefixes(prompt, G, seeds[g]):
                    prefixes.append(self._tokenizer(text, add_special_tokens=False)["input_ids"] if text else [])
                    targets.append(calls)
        return self._generate_groups(prompt_ids, seeds, G, prefixes, targets), None

    def _generate_groups(self, prompt_ids, seeds: list[int], G: int, prefixes: list[list[int]] | None = None,
                         targets: list[list[str]] | None = None) -> list[list[int]]:
        """Every group in one ``generate`` call, each group sampling from its own seeded generator
        (:class:`~..generation.SeededGroupSampling`); completions end at the first EOS (kept).
        ``prefixes`` (per row): the start of the completion, given rather than sampled, returned as
        part of the completion; ``targets`` (per row): the calls its step may write
        (:mod:`.menu_groups`)."""
        from transformers import GenerationConfig, StoppingCriteriaList
        from trl.models import unwrap_model_for_generation
        from trl.trainer.utils import pad

        from ..generation import SeededGroupSampling, StepEndCriteria
        from ..menu_constraint import MenuConstraint

        device = self.accelerator.device
        pad_id = self._tokenizer.pad_token_id
        prefixes = prefixes or [[] for _ in prompt_ids]
        rows = [list(p) + list(x) for p, x in zip(prompt_ids, prefixes)]
        ids = pad([torch.tensor(r) for r in rows], padding_value=pad_id, padding_side="left").to(device)
        mask = pad([torch.ones(len(r), dtype=torch.long) for r in rows], padding_value=0,
                   padding_side="left").to(device)
        width = ids.size(1)
        starts = [width - len(x) for x in prefixes]
        if targets is not None:
            processors = [MenuConstraint(self._tokenizer, width, targets, starts)]
        else:
            processors = [MenuConstraint(self._tokenizer, width)] if self.menu_constrained else []
        processors.append(SeededGroupSampling(seeds, G, self.temperature, self.top_p, self.top_k, device))
        stops = StoppingCriteriaList([StepEndCriteria(self._tokenizer, width, starts)] if self.stop_after_step else [])
        config = GenerationConfig(max_new_tokens=self.max_completion_length, do_sample=False, pad_token_id=pad_id,
                                  bos_token_id=self._tokenizer.bos_token_id, eos_token_id=self.eos_token_ids)
        with (unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                          gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                          generation_kwargs=config.to_diff_dict(),
                                          gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
              as unwrapped, torch.no_grad(), merged_lora(unwrapped, self.accelerator.num_processes == 1)):
            cache = None
            if not any(prefixes) and self.share_group_prompts and width > 1:
                # the G rows of a group share their prompt: run it once and hand generate the cache
                # (all but the last token, which generate feeds to produce the first new token), with
                # the positions generate derives from the mask, so it is the cache generate would build
                row_index = torch.arange(ids.size(0), device=ids.device)
                cache = prefix_cache(unwrapped, ids, mask, width - 1, row_index[::G], row_index // G)
            # the group sampler picks the tokens (greedy over its perturbed scores): no warpers here
            out = generate_batch(unwrapped, ids, mask, max_new_tokens=self.max_completion_length, pad_token_id=pad_id,
                                 eos_token_id=self.eos_token_ids, logits_processor=processors, stopping_criteria=stops,
                                 cache=cache)
        eos = set(self.eos_token_ids if isinstance(self.eos_token_ids, (list, tuple)) else [self.eos_token_ids])
        completions = []
        for prefix, row in zip(prefixes, out[:, width:].tolist()):
            end = next((i + 1 for i, tok in enumerate(row) if tok in eos), len(row))
            completions.append(list(prefix) + row[:end])
        return completions

    # ---- log-probabilities: each common prompt beginning computed once -------------------------
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **kwargs):
        """TRL's log-probabilities of the completion tokens, with the common beginning of a chunk's
        prompts run once.

        The ``num_generations`` rows of an SRL group share their whole prompt, and RLVR's turns of one
        scenario share its species, lore and goal; on the tiny CPU tiers the prompt is most of the
        tokens (about 430 of 490 in SRL). Each chunk's prompts are laid out by
        :func:`..shared_prefix.plan_shared_prefixes`: the shared beginnings run once and every row
        continues from their key/value cache (selected per row, gradients flowing through it), with
        positions from the mask: the same computation at a fraction of the cost. TRL shuffles the rows
        before the loss, so prompts are matched by content, not position. Used where it applies (one
        process, no multimodal inputs); a chunk with nothing to share, torchrun and vision models take
        TRL's own path."""
        chunk = batch_size or input_ids.size(0)
        prompt_width = input_ids.size(1) - logits_to_keep
        usable = (self.share_group_prompts and not compute_aux_loss and self.accelerator.num_processes == 1
                  and not any(v is not None for v in kwargs.values()) and prompt_width > 0)
        plans = []
        if usable:
            pad = self._tokenizer.pad_token_id
            for start in range(0, input_ids.size(0), chunk):
                ids = input_ids[start:start + chunk, :prompt_width]
                mask = attention_mask[start:start + chunk, :prompt_width].bool()
                rows = [row[keep].tolist() for row, keep in zip(ids, mask)]
                plans.append((start, plan_shared_prefixes(rows, pad)))
            usable = any(layout is not None for _, layout in plans)
        if not usable:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **kwargs)
        all_logps, all_entropies = [], []
        for start, layout in plans:
            ids, mask = input_ids[start:start + chunk], attention_mask[start:start + chunk]
            completion, valid = ids[:, prompt_width:], mask[:, prompt_width:] != 0
            if layout is None:
                logps, entropy, _ = super()._get_per_token_logps_and_entropies(
                    model, ids, mask, logits_to_keep, batch_size=chunk, compute_entropy=compute_entropy)
                all_logps.append(logps)
                all_entropies.append(entropy)
                continue
            device = ids.device
            full_ids = torch.cat([layout.ids.to(device), completion], dim=1)
            full_mask = torch.cat([layout.mask.to(device), mask[:, prompt_width:]], dim=1)
            split = layout.prefix_width
            positions = mask_positions(full_mask)
            with self.accelerator.autocast():
                cache = prefix_cache(model, full_ids, full_mask, split, layout.heads.to(device),
                                     layout.group_of_row.to(device))
                # logits only where they predict a completion token: from the last prompt token on
                tail = model(input_ids=full_ids[:, split:], attention_mask=full_mask,
                             position_ids=positions[:, split:], cache=cache, use_cache=True,
                             logits_to_keep=completion.size(1) + 1)
            logits = tail.logits[:, :-1]
            logps = torch.log_softmax(logits.float() / self.temperature, dim=-1)
            token_logps = logps.gather(-1, completion.unsqueeze(-1)).squeeze(-1)
            all_logps.append(token_logps.masked_fill(~valid, 0.0))
            if compute_entropy:
                with torch.no_grad():
                    entropy = -(logps.exp() * logps).sum(-1)
                all_entropies.append(entropy.masked_fill(~valid, 0.0))
        return (torch.cat(all_logps, dim=0), torch.cat(all_entropies, dim=0) if compute_entropy else None, None)

    # ---- dynamic sampling ----------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _local_group_std(self, n_local: int) -> list[float]:
        """Per-group reward std of this process's slice of the last scored batch."""
        rpf = self._last_rewards_per_func
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rpf).all(dim=1)] = torch.nan
        start = self.accelerator.process_index * n_local
        local = rewards[start:start + n_local]
        return nanstd(local.view(-1, self.num_generations), dim=1).nan_to_num(0.0).tolist()

    def _fresh_inputs(self, n_groups: int, round_no: int) -> list[dict[str, Any]]:
        """``n_groups`` prompts drawn from the training set, each repeated ``num_generations`` times.
        Deterministic in (seed, step, round, process), so a resumed run draws the same prompts; keyed by
        the process, so 1 and N processes draw different replacements (equal runs need no dropped group)."""
        ds = self.train_dataset
        if ds is None or not hasattr(ds, "__getitem__"):
            raise TypeError("dynamic sampling needs a map-style training dataset")
        rng = random.Random(f"srl-dynamic:{self.args.seed}:{self.state.global_step}:{round_no}:"
                            f"{self.accelerator.process_index}")
        picks = [rng.randrange(len(ds)) for _ in range(n_groups)]
        return [dict(ds[i]) for i in picks for _ in range(self.num_generations)]

    def _global_deficit(self, deficit: int) -> int:
        """The largest missing-group count over processes: every process runs the same rounds."""
        return int(self.accelerator.gather(torch.tensor([deficit], device=self.accelerator.device)).max())

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        G = self.num_generations
        n_local = len(inputs)
        if n_local % G:
            raise ValueError(f"the local generation batch ({n_local}) must hold whole groups of {G}")
        parts = [super()._generate_and_score_completions(inputs)]

        def draw(n: int, round_no: int) -> list[float]:
            fresh = self._fresh_inputs(n, round_no)
            parts.append(super(GRPOStageTrainer, self)._generate_and_score_completions(fresh))
            return self._local_group_std(len(fresh))

        ds = select_groups(self._local_group_std(n_local), draw, group_size=G,
                           epsilon=self.dynamic_sampling_epsilon, max_extra_rounds=self.max_extra_generation_rounds,
                           enabled=self.dynamic_sampling, sync_deficit=self._global_deficit)
        self._record_dynamic(ds)
        batch = parts[0] if ds.unchanged else self._assemble([(parts[r], g) for r, g in ds.selection])
        # One collective on every rank, assembled or not (``unchanged`` is a per-process outcome:
        # a gather in the assembling ranks only would hang them), and the count is the final batch's.
        batch["num_items_in_batch"] = self._global_items(batch)
        return batch

    def _global_items(self, batch: dict[str, Any]) -> torch.Tensor:
        """Loss tokens of the whole (all processes') batch, as TRL counts them."""
        mask = batch["completion_mask"]
        if batch.get("tool_mask") is not None:
            mask = mask * batch["tool_mask"]
        return self.accelerator.gather(mask.sum()).sum()

    def _record_dynamic(self, ds: DynamicSampling) -> None:
        """Totals for metrics.json, this step's history fields and TRL's ``dynamic/*`` logs."""
        t = self.dynamic_totals
        t["steps"] += 1
        t["scored_groups"] += ds.scored_groups
        t["dropped_groups"] += ds.dropped_groups
        t["kept_groups"] += ds.kept_groups
        t["padded_groups"] += ds.padded_groups
        t["extra_generations"] += ds.extra_generations
        t["base_generations"] += ds.n_groups * ds.group_size
        step = {"filter_rate": ds.filter_rate, "extra_generations": ds.extra_generations,
                "extra_rounds": ds.extra_rounds, "padded_groups": ds.padded_groups}
        # one generation batch per optimizer step in our configs; accumulate if there are several
        for k, v in step.items():
            self._step_dynamic[k] = (self._step_dynamic.get(k, 0) + v) if k != "filter_rate" else v
        m = self._metrics["train"]
        m["dynamic/filter_rate"].append(ds.filter_rate)
        m["dynamic/extra_generations"].append(float(ds.extra_generations))
        m["dynamic/extra_rounds"].append(float(ds.extra_rounds))
        m["dynamic/padded_groups"].append(float(ds.padded_groups))
        m["dynamic/generations_per_kept_group"].append(ds.generations_per_kept_group)

    def _assemble(self, selection: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
        """One batch from (scored batch, group index) pairs, re-padded to common lengths."""
        G = self.num_generations
        return self._concat([{key: part[key][g * G:(g + 1) * G] for key in part if key != "num_items_in_batch"}
                             for part, g in selection])

    def _concat(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Batches of training rows (the same fields) as one, re-padded to common lengths; the caller
        sets ``num_items_in_batch`` (a collective)."""
        pad_id = self._tokenizer.pad_token_id
        keys = set(parts[0]) - {"num_items_in_batch"}
        unsupported = keys - set(_LEFT_PADDED) - set(_RIGHT_PADDED) - {"advantages"}
        if unsupported:
            raise NotImplementedError(f"dynamic sampling and replay do not support batch fields {sorted(unsupported)} "
                                      "(multimodal inputs); set dynamic_sampling: false and replay_wins: 0")
        for part in parts[1:]:
            if set(part) - {"num_items_in_batch"} != keys:
                raise ValueError(f"batches with different fields: {sorted(keys)} and {sorted(set(part))}")
        out: dict[str, Any] = {}
        for key in keys:
            rows = [part[key] for part in parts]
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
        return out

    # ---- training rows that were not generated by this step (RLVR's turns, replayed wins) --------
    def _encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        """Prompt texts as the stage's rollouts tokenize them (the chat template when ``chat``)."""
        enc = self._tokenizer(render_prompts(self._tokenizer, prompts, self.chat),
                              add_special_tokens=False)
        return [list(ids) for ids in enc["input_ids"]]

    def _rows_batch(self, prompt_ids: list[list[int]], completions: list[list[int]],
                    advantages: list[float]) -> dict[str, Any]:
        """Training rows (prompt token ids, completion token ids, advantage) as a generation batch:
        left-padded prompts, right-padded completions, and the reference's log-probs when the KL term
        is on. Fully masked copies fill the row count up to a multiple of TRL's
        ``steps_per_generation`` (it splits the batch into that many equal micro-batches); they add
        nothing to the loss."""
        pad = self._tokenizer.pad_token_id
        device = self.accelerator.device
        prompt_ids, completions, advantages = [list(p) for p in prompt_ids], [list(c) for c in completions], list(advantages)
        masked = [False] * len(prompt_ids)
        for i in range((-len(prompt_ids)) % self.args.steps_per_generation):
            prompt_ids.append(prompt_ids[i])
            completions.append(completions[i])
            advantages.append(0.0)
            masked.append(True)
        rows = len(prompt_ids)
        p_width = max(1, max(len(p) for p in prompt_ids))
        c_width = max(1, max(len(c) for c in completions))
        p_ids = torch.full((rows, p_width), pad, dtype=torch.long)
        p_mask = torch.zeros((rows, p_width), dtype=torch.long)
        c_ids = torch.full((rows, c_width), pad, dtype=torch.long)
        c_mask = torch.zeros((rows, c_width), dtype=torch.long)
        for row, (p, c) in enumerate(zip(prompt_ids, completions)):
            if p:
                p_ids[row, p_width - len(p):] = torch.tensor(p, dtype=torch.long)
                p_mask[row, p_width - len(p):] = 1
            c_ids[row, :len(c)] = torch.tensor(c, dtype=torch.long)
            c_mask[row, :len(c)] = 0 if masked[row] else 1
        p_ids, p_mask, c_ids, c_mask = p_ids.to(device), p_mask.to(device), c_ids.to(device), c_mask.to(device)
        self.state.num_input_tokens_seen += int(p_mask.sum() + c_mask.sum())
        self._metrics["train"]["num_tokens"] = [self.state.num_input_tokens_seen]
        out = {"prompt_ids": p_ids, "prompt_mask": p_mask, "completion_ids": c_ids, "completion_mask": c_mask,
               "advantages": torch.tensor(advantages, dtype=torch.float32, device=device)}
        if self.beta != 0.0:
            out["ref_per_token_logps"] = self._reference_logps(p_ids, p_mask, c_ids, c_mask)
        return out

    @torch.no_grad()
    def _reference_logps(self, prompt_ids, prompt_mask, completion_ids, completion_mask) -> torch.Tensor:
        """Per-token log-probs of the KL reference: the frozen ``ref`` copy of the initial adapter
        when there is one (RLVR from SRL), else the base model (adapters disabled)."""
        model = self.accelerator.unwrap_model(self.model)
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        with use_adapter(model, adapter_name="ref" if "ref" in model.peft_config else None):
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, input_ids, attention_mask, completion_ids.size(1),
                batch_size=self.args.per_device_train_batch_size)
        return logps
