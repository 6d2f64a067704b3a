"""On-policy distillation (DESIGN.md §5): a smaller tier's student learns from a larger tier's teacher.

Bronze teaches Silver, Silver teaches Gold. One job, two phases, one trainer:

1. **Warm start** (the first ``sft_steps`` steps): supervised next-token learning on the teacher's
   verified plays (the ``bronze_traces`` turns: the prompt the teacher saw and the turn it wrote).
   Skipped when there are no traces (a Bronze that never succeeds keeps none): the metrics say so.
2. **On-policy** (every later step): the student samples one turn per prompt (stopped at the end
   of the step line, as everywhere), and the teacher scores every token the student wrote: the
   loss is GKD's generalized JSD over the vocabulary per token, ``beta`` 1 being the reverse
   KL(student || teacher) of on-policy distillation (Agarwal et al. 2024; Thinking Machines 2025).
   The prompts are the turns of the train encounters and of the traces.

:class:`DistillTrainer` is TRL's ``GKDTrainer`` (``lmbda`` 1: always on-policy) with the shared
state, history and checkpoints (:class:`~.trainer_state.JobStateMixin`); it replaces GKD's
chat-template collator with one for the turn contract's plain prompts (chat when the tokenizer
has a template) and its generation with :func:`~.generation.generate_steps`. Teacher and student
must share a tokenizer (the teacher scores the student's token ids): checked before any training.
The config is :class:`~.distill_config.DistillHyperparameters` (``configs/training/distill.yaml``).
A student trained from scratch ships its best validation checkpoint (``select_every``, the checkpoint
selection of every stage, :mod:`.grpo.selection`): the untrained student included, so a distillation
that breaks the student's turns does not ship.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # GKD lives in trl.experimental (trl 1.16)
from trl.experimental.gkd import GKDTrainer  # noqa: E402

from .distill_config import DistillHyperparameters, resolve_distill_hyperparameters
from .generation import generate_steps, render_prompts
from .job_runner import Reporter, StageJob, run_stage_job
from .grpo.selection import SelectsCheckpoints
from .job_spec import TrainingJobSpec
from .srl_trainer import validation_reward_scorer, validation_selection
from .trainer_state import JobStateMixin, finite_or_none

__all__ = ["DistillTrainer", "TokenizerMismatch", "check_same_tokenizer", "load_distill_dataset", "run_distill"]

SFT, ON_POLICY = "sft", "on_policy"


class TokenizerMismatch(ValueError):
    """Teacher and student tokenize differently: the teacher could not score the student's tokens."""


def check_same_tokenizer(student: Any, teacher: Any, student_name: str, teacher_name: str) -> None:
    """Fail clearly unless both tokenizers map every token to the same id (and agree on the specials)."""
    sv, tv = student.get_vocab(), teacher.get_vocab()
    problems = []
    if len(sv) != len(tv):
        problems.append(f"vocabulary sizes differ ({len(sv)} vs {len(tv)})")
    differing = [t for t, i in sv.items() if tv.get(t) != i]
    if differing:
        problems.append(f"{len(differing)} tokens map to other ids (e.g. {sorted(differing)[:3]})")
    for special in ("eos_token_id", "pad_token_id"):
        if getattr(student, special) != getattr(teacher, special):
            problems.append(f"{special} differs ({getattr(student, special)} vs {getattr(teacher, special)})")
    if problems:
        raise TokenizerMismatch(f"the student {student_name} and the teacher {teacher_name} do not share a tokenizer: "
                                + "; ".join(problems) + ". On-policy distillation scores the student's tokens with "
                                "the teacher, so both tiers need one tokenizer (one model family)")


def load_distill_dataset(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The job's dataset: ``traces`` (prompt, completion), ``prompts`` (prompt) and ``validation``
    (prompt, target), as the distillation assets write it; a bad record names its index and field."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    need = {"traces": ("prompt", "completion"), "prompts": ("prompt",), "validation": ("prompt", "target")}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with {sorted(need)}")
    for key, fields in need.items():
        rows = data.get(key)
        if not isinstance(rows, list):
            raise ValueError(f"{path}: field {key}: expected a list")
        for i, row in enumerate(rows):
            missing = [f for f in fields if not isinstance(row.get(f), str)]
            if missing:
                raise ValueError(f"{path}: record {key}[{i}]: field {missing[0]}: missing or not a string")
    return data


class TurnCollator:
    """Prompt + completion rows -> GKD's batch: ``input_ids``/``attention_mask`` (right padded),
    ``labels`` (-100 on the prompt and the padding), ``prompts``/``prompt_attention_mask`` (left
    padded) and the prompt texts (for on-policy sampling)."""

    def __init__(self, tokenizer: Any, max_length: int, chat: bool):
        self.tokenizer, self.max_length, self.chat = tokenizer, max_length, chat

    def encode(self, prompt: str, completion_ids: list[int]) -> tuple[list[int], int]:
        text = render_prompts(self.tokenizer, [prompt], self.chat)[0]
        p = self.tokenizer(text, add_special_tokens=False).input_ids
        ids = (p + list(completion_ids))[-self.max_length:]
        return ids, max(0, len(ids) - len(completion_ids))

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        tok = self.tokenizer
        encoded = []
        for r in rows:
            completion = r.get("completion_ids")
            if completion is None:
                completion = tok(r.get("completion") or "", add_special_tokens=False).input_ids
            encoded.append(self.encode(r["prompt"], completion))
        width = max(len(ids) for ids, _ in encoded)
        pwidth = max(max(1, n) for _, n in encoded)
        pad = tok.pad_token_id
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        prompts = torch.full((len(rows), pwidth), pad, dtype=torch.long)
        prompt_mask = torch.zeros((len(rows), pwidth), dtype=torch.long)
        for row, (ids, n_prompt) in enumerate(encoded):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            attention[row, :len(ids)] = 1
            labels[row, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:], dtype=torch.long)
            if n_prompt:
                prompts[row, pwidth - n_prompt:] = torch.tensor(ids[:n_prompt])
                prompt_mask[row, pwidth - n_prompt:] = 1
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "prompts": prompts,
                "prompt_attention_mask": prompt_mask, "prompt_text": [r["prompt"] for r in rows]}


class DistillTrainer(SelectsCheckpoints, JobStateMixin, GKDTrainer):
    """GKD with a supervised warm start on the traces, then on-policy reverse KL; see the module docstring."""

    def __init__(self, *args: Any, traces: list[dict[str, Any]], hp: DistillHyperparameters, chat: bool = False,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.traces = list(traces)
        self.hp = hp
        self.chat = chat
        self.sft_steps = hp.sft_steps if self.traces else 0
        self._phase: str | None = None
        self._completion_length: float | None = None
        self.phase_steps = {SFT: 0, ON_POLICY: 0}

    # ---- checkpointed state ---------------------------------------------------------------------
    def extra_job_state(self) -> dict[str, Any]:
        return {**super().extra_job_state(), "phase_steps": self.phase_steps}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        super().load_extra_job_state(state)
        self.phase_steps.update(state.get("phase_steps") or {})

    # ---- the two phases -------------------------------------------------------------------------
    def _trace_batch(self) -> dict[str, Any]:
        """``batch_size`` trace turns, drawn deterministically per (seed, step): a resumed run
        draws the same ones."""
        rng = random.Random(f"distill-sft:{self.args.seed}:{self.state.global_step}")
        rows = [self.traces[rng.randrange(len(self.traces))] for _ in range(self.hp.batch_size)]
        return self.data_collator(rows)

    def _on_policy_batch(self, model: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The student's own turn for every prompt of the batch (sampled, stopped after the step)."""
        student = self.accelerator.unwrap_model(model)
        outs = generate_steps(student, self.processing_class, inputs["prompt_text"], do_sample=True,
                              temperature=self.hp.temperature, max_new_tokens=self.hp.max_completion_length,
                              batch_size=len(inputs["prompt_text"]), chat=self.chat,
                              menu_constrained=self.hp.menu_constrained)
        self._completion_length = sum(len(ids) for _, ids in outs) / max(1, len(outs))
        rows = [{"prompt": p, "completion_ids": ids} for p, (_, ids) in zip(inputs["prompt_text"], outs)]
        return self.data_collator(rows)

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step < self.sft_steps:
            self._phase, batch = SFT, self._trace_batch()
            self._completion_length = None
        else:
            self._phase, batch = ON_POLICY, self._on_policy_batch(model, inputs)
        self.phase_steps[self._phase] += 1
        self.state.num_input_tokens_seen += int(batch["attention_mask"].sum())   # what tokens/s is computed from
        # GKD's own step would re-sample at random (lmbda); the phase is decided above instead.
        return super(GKDTrainer, self).training_step(model, batch, None)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self._phase == SFT:
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            logits, labels = out.logits[:, :-1, :], inputs["labels"][:, 1:]
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
            return (loss, out) if return_outputs else loss
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=None)

    # ---- history and summary --------------------------------------------------------------------
    def _tokens_seen(self) -> int:
        return int(self.state.num_input_tokens_seen)

    def step_record(self, logs: dict[str, float], tokens: int) -> dict[str, Any]:
        loss = finite_or_none(logs.get("loss"))
        return {"phase": self._phase, "kl_to_teacher": loss if self._phase == ON_POLICY else None,
                "nll": loss if self._phase == SFT else None,
                "completion_length": finite_or_none(self._completion_length)}

    def summary_metrics(self, hp: DistillHyperparameters) -> dict[str, Any]:
        losses = [h["loss"] for h in self.history if h.get("loss") is not None and math.isfinite(h["loss"])]
        kls = [h["kl_to_teacher"] for h in self.history if h.get("kl_to_teacher") is not None]
        return {"loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
                "kl_to_teacher_first": kls[0] if kls else None, "kl_to_teacher_last": kls[-1] if kls else None,
                "sft_steps": self.phase_steps[SFT], "on_policy_steps": self.phase_steps[ON_POLICY],
                "warm_start": "supervised on the teacher's traces" if self.sft_steps else
                              "skipped: the teacher kept no traces" if not self.traces else "skipped (sft_steps 0)",
                "traces": len(self.traces),
                "selection": self.selection_summary()}


@torch.no_grad()
def mean_kl_to_teacher(student: Any, teacher: Any, collator: TurnCollator, rows: list[dict[str, Any]],
                       batch_size: int = 8) -> float | None:
    """Mean per-token reverse KL(student || teacher), exact over the vocabulary, on the completions of ``rows``."""
    if not rows:
        return None
    total, count = 0.0, 0
    device = next(student.parameters()).device
    for i in range(0, len(rows), batch_size):
        batch = collator(rows[i:i + batch_size])
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        labels = batch["labels"][:, 1:].to(device)
        s = F.log_softmax(student(input_ids=ids, attention_mask=mask).logits[:, :-1, :].float(), -1)
        t = F.log_softmax(teacher(input_ids=ids, attention_mask=mask).logits[:, :-1, :].float(), -1)
        kl = (s.exp() * (s - t)).sum(-1)
        keep = labels != -100
        total += float(kl[keep].sum())
        count += int(keep.sum())
    return total / count if count else None


def run_distill(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one distillation job; see :func:`.job_runner.run_stage_job` for outputs and statuses."""
    if spec.stage != "distill":
        raise ValueError(f"run_distill got a {spec.stage!r} job")
    from transformers import AutoTokenizer

    from .base_models import load_model

    hp = resolve_distill_hyperparameters(spec.hyperparameters)
    data = load_distill_dataset(spec.dataset)
    traces, prompts = data["traces"], data["prompts"] or data["traces"]
    validation = data["validation"][: hp.validation_examples]
    if not prompts:
        raise ValueError(f"{spec.dataset}: no prompts to distil on (field prompts is empty and there are no traces)")
    box: dict[str, Any] = {}

    def check_tokenizer(tokenizer):
        local = Path(spec.teacher_base_model).exists()
        teacher_tok = AutoTokenizer.from_pretrained(spec.teacher_base_model, local_files_only=local)
        if teacher_tok.pad_token is None:
            teacher_tok.pad_token = teacher_tok.eos_token
        check_same_tokenizer(tokenizer, teacher_tok, spec.base_model, spec.teacher_base_model)

    def build(model, tokenizer, chat, common):
        import logging

        from datasets import Dataset

        from ..core.console import is_verbose

        if not is_verbose():  # GKD advertises TRL's DistillationTrainer on every run: a notice, not a problem
            logging.getLogger("trl.experimental.gkd.gkd_trainer").setLevel(logging.ERROR)

        # a frozen teacher, its adapter merged by load_model: one plain forward per batch
        teacher, _ = load_model(spec.teacher_base_model, spec.teacher_adapter, device="cpu" if not torch.cuda.is_available() else None)
        teacher.requires_grad_(False)
        box["teacher"] = teacher
        collator = TurnCollator(tokenizer, hp.max_length, chat)
        box["collator"] = collator
        rows = [{"prompt": p["prompt"]} for p in prompts]
        selection = validation_selection(spec, hp, data["validation"], chat)
        return DistillTrainer(teacher_model=teacher, data_collator=collator, train_dataset=Dataset.from_list(rows),
                              processing_class=tokenizer, traces=traces, hp=hp, chat=chat, selection=selection,
                              **common)

    reward_score = validation_reward_scorer(validation, hp)

    def score(peft_model, tokenizer, chat):
        out = reward_score(peft_model, tokenizer, chat)
        rows = [{"prompt": v["prompt"], "completion": v["target"]} for v in validation]
        with peft_model.disable_adapter():
            out["validation_kl_to_teacher_base"] = mean_kl_to_teacher(peft_model, box["teacher"], box["collator"], rows,
                                                                      hp.validation_batch_size)
        out["validation_kl_to_teacher_trained"] = mean_kl_to_teacher(peft_model, box["teacher"], box["collator"], rows,
                                                                     hp.validation_batch_size)
        out["teacher"] = {"base_model": spec.teacher_base_model, "adapter": spec.teacher_adapter}
        out["warm_started_from"] = spec.initial_adapter
        return out

    # One process only: each rank would sample its own turns and run the teacher on them outside
    # the Trainer's prepared models (untested under DDP): fail clearly rather than risk a hang.
    return run_stage_job(StageJob(spec, hp, len(prompts), len(validation), build, score, check_tokenizer,
                                  multi_process=False), reporter)
