"""The SRL stage (arXiv 2510.25992): GRPO on single steps, rewarded by step similarity to the expert.

:class:`SRLTrainer` is the shared GRPO trainer (:class:`~.grpo.trainer.GRPOStageTrainer`: dynamic
sampling, adaptive KL bound, atomic checkpoints, history) with the SRL reward as its reward
function; its config is :class:`~.srl_config.SRLHyperparameters` (``configs/training/srl.yaml``).
:func:`run_srl` is the whole job for one :class:`~.job_spec.TrainingJobSpec`, run by the one
job driver (:mod:`.job_runner`): it scores the validation split (greedy, SRL reward) for the base
and for the trained model. With ``replay_wins`` the trainer also replays the model's own sampled
steps that made the expert's decision (see :class:`SRLTrainer`).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from .grpo.trainer import GRPOStageTrainer, grpo_trainer_kwargs
from .job_runner import Reporter, StageJob, run_stage_job
from .hyperparameters import StageHyperparameters
from .job_spec import TrainingJobSpec
from .rewards import reward_function, srl_reward_func
from .rewards.trl_adapters import completion_text
from .rewards.srl_effect import call_reward
from .srl_config import SRLHyperparameters, resolve_hyperparameters
from .win_replay import Win, WinsBuffer

__all__ = ["SRLTrainer", "load_srl_examples", "mean_srl_reward", "run_srl", "to_train_dataset",
           "validation_reward_scorer"]


class SRLTrainer(GRPOStageTrainer):
    """The shared GRPO trainer on the SRL dataset (``prompt``, ``target``); pass ``reward_funcs=srl``.

    With ``replay_wins`` > 0 (and the species' ``ruleset``), every sampled step whose action call does
    in the prompt's state what the expert's does (the simulator judges it:
    :func:`~.rewards.srl_effect.call_reward`) goes into a wins buffer (:mod:`.win_replay`), and
    ``replay_wins`` of them are added to each later step's batch with ``replay_advantage``:
    self-imitation of the model's own right decisions (arXiv 1806.05635), so a right call that one
    group of four sampled once is learnt from again, not once. The replayed rows are the model's own
    tokens (its think, title and line), never the expert's; the KL term applies to them too."""

    def __init__(self, *args: Any, replay_wins: int = 0, replay_advantage: float = 1.0, ruleset: Any = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        if replay_wins and ruleset is None:
            raise ValueError("replay_wins needs the species' rules (the dataset's 'rules') to judge decisions")
        self.replay_wins = int(replay_wins)
        self.replay_advantage = float(replay_advantage)
        self.ruleset = ruleset
        self.wins = WinsBuffer()

    def extra_job_state(self) -> dict[str, Any]:
        return {**super().extra_job_state(), "wins": self.wins.state()}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        super().load_extra_job_state(state)
        self.wins.load_state(state.get("wins"))

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.replay_wins and self.model.training:
            new = 0
            for row, completion, ids in zip(inputs, completions, completion_ids_list):
                prompt, text = completion_text(row["prompt"]), completion_text(completion)
                try:
                    right = call_reward(text, row["target"], prompt, self.ruleset) == 1.0
                except ValueError:   # a prompt whose state cannot be read: not judged
                    continue
                if right:
                    task = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12], 16)
                    new += self.wins.add_win(Win(task, (text,), ((prompt, tuple(int(i) for i in ids)),)))
            self._metrics["train"]["srl/new_wins"].append(float(new))
        return rewards

    def _generate_and_score_completions(self, inputs):
        batch = super()._generate_and_score_completions(inputs)
        if not self.model.training or not self.replay_wins:
            return batch
        rng = random.Random(f"srl-replay:{self.args.seed}:{self.state.global_step}")
        replay = self.wins.sample(self.replay_wins, rng)
        m = self._metrics["train"]
        m["srl/wins_buffer"].append(float(len(self.wins)))
        m["srl/replayed_wins"].append(float(len(replay)))
        if replay:
            raw = [[{"role": "user", "content": w.turns[0][0]}] if self.chat else w.turns[0][0] for w in replay]
            prompt_ids, _, _ = self._tokenize_prompts(raw)    # as TRL tokenized them for generation
            rows = self._rows_batch(prompt_ids, [list(w.turns[0][1]) for w in replay],
                                    [self.replay_advantage] * len(replay))
            if "old_per_token_logps" in batch:
                raise NotImplementedError("replay_wins needs one optimizer step per generation batch "
                                          "(TRL's old_per_token_logps are not computed for replayed rows)")
            batch = self._concat([batch, rows])
        # a collective on every rank, whether this rank replayed anything or not (torchrun)
        batch["num_items_in_batch"] = self._global_items(batch)
        return batch

    def _extra_record(self, logs: dict[str, float]) -> dict[str, Any]:
        if not self.replay_wins:
            return {}
        return {"new_wins": logs.get("srl/new_wins"), "wins_buffer": logs.get("srl/wins_buffer"),
                "replayed_wins": logs.get("srl/replayed_wins")}

    def summary_metrics(self, hp: Any) -> dict[str, Any]:
        extra = {"wins_buffer": len(self.wins), "wins_prompts": self.wins.scenarios()} if self.replay_wins else {}
        return {**super().summary_metrics(hp), **extra}


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


def to_train_dataset(examples: list[dict[str, Any]], chat: bool):
    """The GRPO training set: ``prompt`` (conversational when ``chat``) and ``target`` (the expert step)."""
    from datasets import Dataset

    rows = [{"prompt": [{"role": "user", "content": e["prompt"]}] if chat else e["prompt"], "target": e["target"]}
            for e in examples]
    return Dataset.from_list(rows)


def mean_srl_reward(model: Any, tokenizer: Any, examples: list[dict[str, Any]], max_new_tokens: int = 64,
                    batch_size: int = 8, chat: bool = False, reward: str = "paper",
                    menu_constrained: bool = False, ruleset: Any = None) -> float | None:
    """Greedy generation (stopped after the step) on ``examples`` and the mean SRL reward (the
    ``reward`` variant; ``effect`` needs the species' ``ruleset``) against their expert steps."""
    from .generation import generate_steps

    if not examples:
        return None
    fn = reward_function(reward, ruleset)
    outs = generate_steps(model, tokenizer, [e["prompt"] for e in examples], max_new_tokens=max_new_tokens,
                          batch_size=batch_size, chat=chat, menu_constrained=menu_constrained)
    return sum(fn(text, e["target"], e["prompt"]) for (text, _), e in zip(outs, examples)) / len(examples)


def dataset_ruleset(path: str | Path) -> Any:
    """The species' rules in force that the SRL dataset artifact carries (``rules``), or ``None``
    for a bare list of examples; the ``effect`` reward replays calls with them."""
    from ..game.rules import ruleset_from_artifact

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rules = data.get("rules") if isinstance(data, dict) else None
    return ruleset_from_artifact(rules) if rules else None


def validation_reward_scorer(validation: list[dict[str, Any]], hp: StageHyperparameters, ruleset: Any = None):
    """The ``score`` of a stage trained on the SRL dataset (SRL, SFT): the mean SRL reward of greedy
    steps on the validation examples, for the reference (adapter disabled) and the trained model."""

    def score(peft_model: Any, tokenizer: Any, chat: bool) -> dict[str, Any]:
        gen_kw = dict(max_new_tokens=hp.validation_max_new_tokens, batch_size=hp.validation_batch_size, chat=chat,
                      reward=getattr(hp, "reward", "paper"),  # SFT is scored with the paper's reward
                      menu_constrained=getattr(hp, "menu_constrained", False), ruleset=ruleset)
        with peft_model.disable_adapter():
            base = mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)
        return {"validation_reward_base": base,
                "validation_reward_trained": mean_srl_reward(peft_model, tokenizer, validation, **gen_kw)}

    return score


def validation_selection(spec: TrainingJobSpec, hp: Any, examples: list[dict[str, Any]], chat: bool):
    """The checkpoint selection of a GRPO stage (:mod:`.grpo.selection`) on the dataset's validation
    split, or None when ``hp.select_every`` is 0 or the artifact has no plan tasks."""
    from .grpo.selection import CheckpointSelection, validation_scorer
    from .rlvr_trainer import load_plan_tasks

    if hp.select_every <= 0:
        return None
    try:
        by_split, ruleset = load_plan_tasks(spec.dataset)
    except ValueError:  # a bare list of examples (tests): nothing to select on
        return None
    scorer = validation_scorer(by_split.get("validation", []), examples, ruleset,
                               max_new_tokens=hp.validation_max_new_tokens, max_plan_steps=hp.select_max_plan_steps,
                               batch_size=max(hp.validation_batch_size, 16), chat=chat,
                               menu_constrained=getattr(hp, "menu_constrained", False))
    return CheckpointSelection(hp.select_every, scorer, spec.checkpoint_dir)


def run_srl(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one SRL job; see :func:`.job_runner.run_stage_job` for outputs and statuses."""
    if spec.stage != "srl":
        raise ValueError(f"run_srl got a {spec.stage!r} job")
    hp: SRLHyperparameters = resolve_hyperparameters(spec.hyperparameters)
    examples = load_srl_examples(spec.dataset)
    train = [e for e in examples if e["split"] == "train"]
    validation = [e for e in examples if e["split"] == "validation"][: hp.validation_examples]
    if not train:
        raise ValueError(f"{spec.dataset}: no training examples (split == 'train')")

    ruleset = dataset_ruleset(spec.dataset) if hp.reward in ("effect", "call") or hp.replay_wins else None
    if hp.replay_wins and ruleset is None:
        raise ValueError(f"{spec.dataset}: replay_wins needs the species' rules to judge decisions (the SRL dataset "
                         "artifact's 'rules'); this one has none: set replay_wins: 0")

    def build(model, tokenizer, chat, common):
        selection = validation_selection(spec, hp, [e for e in examples if e["split"] == "validation"], chat)
        return SRLTrainer(reward_funcs=srl_reward_func(hp.reward, ruleset), train_dataset=to_train_dataset(train, chat),
                          processing_class=tokenizer, selection=selection, chat=chat, replay_wins=hp.replay_wins,
                          replay_advantage=hp.replay_advantage, ruleset=ruleset, **common, **grpo_trainer_kwargs(hp))

    score = validation_reward_scorer(validation, hp, ruleset)
    return run_stage_job(StageJob(spec, hp, len(train), len(validation), build, score), reporter)
