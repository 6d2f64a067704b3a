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
adds the state, per-step history and summary every stage shares (:class:`~.trainer_state.JobStateMixin`,
atomic checkpoints included). Its config is :class:`~.sft_config.SFTHyperparameters`
(``configs/training/sft.yaml``). :func:`run_sft` is the whole job for one
:class:`~.job_spec.TrainingJobSpec`, run by the one job driver (:mod:`.job_runner`): it scores the
validation split (greedy, SRL reward) for the base and for the trained model.
"""

from __future__ import annotations

import math
from typing import Any

from trl import SFTTrainer as _TRLSFTTrainer

from ..game.steps import parse_step
from .job_runner import Reporter, StageJob, run_stage_job
from .grpo.selection import SelectsCheckpoints
from .job_spec import TrainingJobSpec
from .sft_config import SFTHyperparameters, resolve_sft_hyperparameters
from .srl_trainer import load_srl_examples, validation_reward_scorer, validation_selection
from .trainer_state import JobStateMixin, finite_or_none
from ..game.turn import menu_actions
from .warmup_corpus import thought

__all__ = ["SFTTrainer", "run_sft", "sft_completion", "to_sft_dataset"]


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
def sft_completion(example: dict[str, Any], species: str | None = None) -> str:
    """``"\\n<think>{think}</think>\\n{expert step}"``: the warm-up corpus' format, its think reading
    the prompt's menu and naming the expert step's action."""
    target = example["target"]
    action = parse_step(target).action
    species = example.get("species") or species or "creature"
    return f"\n<think>{thought(species, menu_actions(example['prompt']), action)}</think>\n{target}"


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


# ------------------------------------------------------------------------------------------------
# The trainer
# ------------------------------------------------------------------------------------------------
class SFTTrainer(SelectsCheckpoints, JobStateMixin, _TRLSFTTrainer):
    """TRL's ``SFTTrainer`` with the shared state, history and summary, and the same checkpoint
    selection on the validation split as the GRPO stages (:mod:`.grpo.selection`) when given one."""

    def _tokens_seen(self) -> int:
        return self._total_train_tokens

    def _train_start_tokens(self) -> int:
        return self._total_train_tokens

    def step_record(self, logs: dict[str, float], tokens: int) -> dict[str, Any]:
        return {"mean_token_accuracy": finite_or_none(logs.get("mean_token_accuracy")),
                "entropy": finite_or_none(logs.get("entropy")), "tokens": int(tokens)}

    def summary_metrics(self, hp: SFTHyperparameters) -> dict[str, Any]:
        losses = [h["loss"] for h in self.history if h.get("loss") is not None and math.isfinite(h["loss"])]
        return {"loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
                "selection": self.selection_summary()}


# ------------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------------
def run_sft(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one SFT job; see :func:`.job_runner.run_stage_job` for outputs and statuses."""
    if spec.stage != "sft":
        raise ValueError(f"run_sft got a {spec.stage!r} job")
    hp = resolve_sft_hyperparameters(spec.hyperparameters)
    examples = load_srl_examples(spec.dataset)
    train = [e for e in examples if e["split"] == "train"]
    validation = [e for e in examples if e["split"] == "validation"][: hp.validation_examples]
    if not train:
        raise ValueError(f"{spec.dataset}: no training examples (split == 'train')")

    def check_tokenizer(tokenizer):
        too_long = [e["id"] for e in train
                    if len(tokenizer(e["prompt"], add_special_tokens=False).input_ids) >= hp.max_length]
        if too_long:  # TRL would cut their whole completion away and train on nothing
            raise ValueError(f"{spec.dataset}: {len(too_long)} of {len(train)} training prompts reach max_length "
                             f"{hp.max_length} tokens (e.g. {too_long[:3]}); raise max_length in "
                             "configs/training/sft.yaml")

    def build(model, tokenizer, chat, common):
        selection = validation_selection(spec, hp, [e for e in examples if e["split"] == "validation"], chat)
        return SFTTrainer(train_dataset=to_sft_dataset(train, chat, spec.species), processing_class=tokenizer,
                          selection=selection, **common)

    score = validation_reward_scorer(validation, hp)
    return run_stage_job(StageJob(spec, hp, len(train), len(validation), build, score, check_tokenizer), reporter)
