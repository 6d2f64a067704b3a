"""RLVR after SRL (arXiv 2510.25992 §4): GRPO on full plans, rewarded only by the simulator.

The model writes a whole plan for a scenario, step by step (:mod:`.plan_rollout`): each turn is
the SRL prompt (scenario, lore, the plan so far) and one ``<think>...</think>`` + step; the
simulator applies the step, and the plan ends on success, a broken format, a violated rule, a
failed goal or ``max_plan_steps``. The reward of the plan (:func:`.plan_rollout.plan_reward`: 1 for
reaching the goal with no violation, else an optional small credit for legal steps) is group
z-scored over the ``num_generations`` plans of one scenario, and every turn of a plan is trained
with its plan's advantage (the policy gradient of a multi-turn episode with an outcome reward).

The rest is the shared GRPO machinery (:class:`.grpo.trainer.GRPOStageTrainer`, which SRL uses
too): PPO clip, LoRA, the adaptive KL controller and its clean stop, atomic checkpoints, the same
job driver (:mod:`.job_runner`), entrypoint and job spec. The config is
:class:`~.rlvr_config.RLVRHyperparameters` (``configs/training/rlvr.yaml``). Two things differ:

- **KL reference**: the job's ``initial_adapter`` is the SRL adapter; training continues that
  adapter and TRL keeps a frozen copy of it (the ``ref`` adapter) as the reference, so the KL is
  measured against the SRL model and RLVR cannot wash out what SRL taught. Without an initial
  adapter (the RLVR-only baseline) the reference is the base model.
- **Dynamic sampling** works on scenarios: a scenario whose plans all score the same (all fail,
  or all succeed) is dropped and a fresh scenario is rolled out instead, up to the cap (the same
  decision as SRL's, :func:`.grpo.dynamic_sampling.select_groups`).
- **Verified wins are kept and replayed** (:mod:`.win_replay`, ``replay_wins``, ``search_samples``):
  a sampled search before step 1 and every successful rollout fill a buffer of the policy's own
  winning plans; each step adds a few of them as rows with a fixed positive advantage, and with
  ``negative_advantages: false`` a failed plan gets advantage 0 rather than a push away.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable

import torch
from trl.trainer.utils import use_adapter

from ..game.rules import ruleset_from_artifact
from .generation import merged_lora
from .grpo.dynamic_sampling import select_groups
from .grpo.trainer import GRPOStageTrainer, grpo_trainer_kwargs
from .job_runner import Reporter, StageJob, run_stage_job
from .job_spec import TrainingJobSpec
from .plan_rollout import PlanRollout, PlanTask, rollout_plans
from .rewards import simulator
from .rlvr_config import RLVRHyperparameters, resolve_rlvr_hyperparameters
from .win_replay import Win, WinsBuffer

__all__ = ["RLVRTrainer", "load_plan_tasks", "plan_success_rate", "run_rlvr"]

Rollout = Callable[[list[int]], list[list[PlanRollout]]]


class RLVRTrainer(GRPOStageTrainer):
    """The shared GRPO trainer whose generation step is a batch of full-plan rollouts.

    ``rollout`` (task ids -> one group of ``num_generations`` plans per task) replaces the
    policy's own rollouts through the simulator, e.g. with scripted plans in tests."""

    def __init__(self, *args: Any, tasks: list[PlanTask], ruleset: Any, hp: RLVRHyperparameters,
                 rollout: Rollout | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tasks = tasks
        self.ruleset = ruleset
        self.hp = hp
        self.rollout = rollout or self._rollout
        self.wins = WinsBuffer()
        self.search_done = hp.search_samples == 0
        self.search_stats: dict[str, Any] = {}

    # ---- state that goes into checkpoints ------------------------------------------------------
    def extra_job_state(self) -> dict[str, Any]:
        return {**super().extra_job_state(), "wins": self.wins.state(), "search_done": self.search_done,
                "search_stats": self.search_stats}

    def load_extra_job_state(self, state: dict[str, Any]) -> None:
        super().load_extra_job_state(state)
        self.wins.load_state(state.get("wins"))
        self.search_done = bool(state.get("search_done", self.search_done))
        self.search_stats = dict(state.get("search_stats") or {})

    # ---- rollouts --------------------------------------------------------------------------------
    def _play(self, tasks: list[PlanTask], samples: int, *, temperature: float, menu_constrained: bool,
              batch_size: int) -> list[PlanRollout]:
        """``samples`` sampled plans per task from the current policy, its LoRA folded in."""
        hp = self.hp
        model = self.accelerator.unwrap_model(self.model)
        with torch.no_grad(), merged_lora(model, self.accelerator.num_processes == 1):
            return rollout_plans(model, self._tokenizer, tasks, self.ruleset, samples=samples, do_sample=True,
                                 temperature=temperature, top_p=hp.top_p, max_new_tokens=hp.max_completion_length,
                                 max_steps=hp.max_plan_steps, batch_size=batch_size, chat=self.chat,
                                 progress_credit=hp.progress_credit, menu_constrained=menu_constrained)

    def _rollout(self, task_ids: list[int]) -> list[list[PlanRollout]]:
        G = self.num_generations
        rollouts = self._play([self.tasks[i] for i in task_ids], G, temperature=self.hp.temperature,
                              menu_constrained=self.hp.menu_constrained, batch_size=max(1, len(task_ids) * G))
        return [rollouts[g * G:(g + 1) * G] for g in range(len(task_ids))]

    def _search(self) -> None:
        """Fill the wins buffer before the first step: ``search_samples`` sampled plans per train
        scenario from the starting policy (see :mod:`.win_replay`)."""
        hp = self.hp
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.args.seed)
            plays = self._play(self.tasks, hp.search_samples, temperature=hp.search_temperature,
                               menu_constrained=hp.search_menu_constrained, batch_size=64)
        self.wins.add(plays)   # one call over every train scenario: task_index is the scenario's
        self.search_stats = {"plays": len(plays), "successes": sum(r.success for r in plays),
                             "wins_kept": len(self.wins), "scenarios_won": self.wins.scenarios()}
        self.search_done = True

    def _replay(self) -> list[Win]:
        if not self.hp.replay_wins:
            return []
        rng = random.Random(f"rlvr-replay:{self.args.seed}:{self.state.global_step}")
        return self.wins.sample(self.hp.replay_wins, rng)

    def _fresh_task_ids(self, n: int, round_no: int) -> list[int]:
        rng = random.Random(f"rlvr-dynamic:{self.args.seed}:{self.state.global_step}:{round_no}")
        return [rng.randrange(len(self.tasks)) for _ in range(n)]

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            raise NotImplementedError("RLVR has no eval loop; validation runs greedy plans after training")
        G = self.num_generations
        if len(inputs) % G:
            raise ValueError(f"the generation batch ({len(inputs)}) must hold whole groups of {G}")
        task_ids = [int(inputs[g * G]["task"]) for g in range(len(inputs) // G)]
        if not self.search_done:
            self._search()
        rounds = [self.rollout(task_ids)]
        played = [task_ids]

        def stds(groups: list[list[PlanRollout]]) -> list[float]:
            return [float(torch.tensor([r.reward for r in g]).std(unbiased=False)) for g in groups]

        def draw(n: int, round_no: int) -> list[float]:
            played.append(self._fresh_task_ids(n, round_no))
            rounds.append(self.rollout(played[-1]))
            return stds(rounds[-1])

        ds = select_groups(stds(rounds[0]), draw, group_size=G, epsilon=self.dynamic_sampling_epsilon,
                           max_extra_rounds=self.max_extra_generation_rounds, enabled=self.dynamic_sampling)
        self._record_dynamic(ds)
        self._log_rollouts([g for groups in rounds for g in groups])
        new_wins = sum(self.wins.add(group, task=ids[g]) for ids, groups in zip(played, rounds)
                       for g, group in enumerate(groups))
        replay = self._replay()
        m = self._metrics["train"]
        m["rlvr/new_wins"].append(float(new_wins))
        m["rlvr/wins_buffer"].append(float(len(self.wins)))
        m["rlvr/replayed_wins"].append(float(len(replay)))
        return self._batch([rounds[r][g] for r, g in ds.selection], replay)

    def _log_rollouts(self, groups: list[list[PlanRollout]]) -> None:
        flat = [r for g in groups for r in g]
        rewards = torch.tensor([r.reward for r in flat])
        m = self._metrics["train"]
        m["reward"].append(float(rewards.mean()))
        m["reward_std"].append(float(rewards.std(unbiased=False)))
        m["rlvr/success_rate"].append(sum(r.success for r in flat) / len(flat))
        m["rlvr/format_error_rate"].append(sum(r.outcome == "format_error" for r in flat) / len(flat))
        m["rlvr/plan_steps"].append(sum(len(r.turns) for r in flat) / len(flat))
        m["rewards/simulator/mean"].append(float(rewards.mean()))

    def _batch(self, groups: list[list[PlanRollout]], replay: list[Win] = ()) -> dict[str, Any]:
        """Every turn of every plan as one training row, with its plan's advantage in its group
        (none below 0 when ``negative_advantages`` is off), then every turn of each replayed win
        with ``replay_advantage``."""
        prompts, completions, advantages = [], [], []
        for group in groups:
            r = torch.tensor([ro.reward for ro in group], dtype=torch.float32)
            adv = group_advantages(r, self.hp.scale_rewards)
            if not self.hp.negative_advantages:
                adv = adv.clamp(min=0.0)
            for ro, a in zip(group, adv.tolist()):
                for turn in ro.turns:
                    prompts.append(turn.prompt)
                    completions.append(turn.completion_ids)
                    advantages.append(a)
        for win in replay:
            for prompt, ids in win.turns:
                prompts.append(prompt)
                completions.append(list(ids))
                advantages.append(self.hp.replay_advantage)
        out = self._rows_batch(self._encode_prompts(prompts), completions, advantages)
        mask = out["completion_mask"]
        self._metrics["train"]["completions/mean_length"].append(float(mask.sum(1).float().mean()))
        out["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        return out

    def summary_metrics(self, hp: Any) -> dict[str, Any]:
        search = {f"search_{k}": v for k, v in self.search_stats.items()}   # plays, successes, wins kept, scenarios won
        return {**super().summary_metrics(hp), "wins_buffer": len(self.wins), "wins_scenarios": self.wins.scenarios(),
                **search}

    def _extra_record(self, logs: dict[str, float]) -> dict[str, Any]:
        return {"success_rate": logs.get("rlvr/success_rate"), "format_error_rate": logs.get("rlvr/format_error_rate"),
                "plan_steps": logs.get("rlvr/plan_steps"), "new_wins": logs.get("rlvr/new_wins"),
                "wins_buffer": logs.get("rlvr/wins_buffer"), "replayed_wins": logs.get("rlvr/replayed_wins")}


# ------------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------------
def load_plan_tasks(path: str | Path) -> tuple[dict[str, list[PlanTask]], Any]:
    """Plan tasks by split and the rules in force, from the ``srl_dataset`` artifact."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "plan_tasks" not in data or "rules" not in data:
        raise ValueError(f"{path}: RLVR needs the srl_dataset artifact with 'plan_tasks' and 'rules' "
                         "(rematerialise srl_dataset)")
    ruleset = ruleset_from_artifact(data["rules"])
    by_split: dict[str, list[PlanTask]] = {}
    for i, rec in enumerate(data["plan_tasks"]):
        try:
            by_split.setdefault(rec["split"], []).append(PlanTask.from_record(rec, ruleset))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: plan_tasks[{i}]: {type(exc).__name__}: {exc}") from exc
    return by_split, ruleset


def plan_success_rate(model: Any, tokenizer: Any, tasks: list[PlanTask], ruleset: Any, hp: RLVRHyperparameters,
                      chat: bool) -> float | None:
    if not tasks:
        return None
    rollouts = rollout_plans(model, tokenizer, tasks, ruleset, max_new_tokens=hp.validation_max_new_tokens,
                             max_steps=hp.max_plan_steps, batch_size=hp.validation_batch_size, chat=chat,
                             menu_constrained=hp.menu_constrained)
    return sum(r.success for r in rollouts) / len(rollouts)


def group_advantages(rewards: torch.Tensor, scale_rewards: str = "group") -> torch.Tensor:
    """A group's advantages: the reward minus the group mean, divided by the group's std when
    ``scale_rewards`` is ``group`` (z-score; a group whose plays differ only by a little progress
    credit then pushes as hard as one with a win), not when it is ``none``."""
    centred = rewards - rewards.mean()
    return centred / (rewards.std(unbiased=False) + 1e-4) if scale_rewards == "group" else centred


def selection_scores(selection: Any, validation_tasks: int, hp: RLVRHyperparameters) -> tuple[float, float] | None:
    """(starting model's, shipped model's) greedy validation success as the checkpoint selection
    played them, when it played the same plans the before/after score would (every validation
    scenario, as many turns); None otherwise (no selection, a longer validation split)."""
    if (selection is None or not selection.curve or selection.best_score is None or selection.curve[0]["step"] != 0
            or validation_tasks > hp.validation_tasks or hp.select_max_plan_steps != hp.max_plan_steps):
        return None
    return selection.curve[0]["validation_success"], selection.best_score[0]


def run_rlvr(spec: TrainingJobSpec, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) one RLVR job; same outputs and statuses as :func:`.srl_trainer.run_srl`."""
    if spec.stage != "rlvr":
        raise ValueError(f"run_rlvr got a {spec.stage!r} job")
    hp = resolve_rlvr_hyperparameters(spec.hyperparameters)
    by_split, ruleset = load_plan_tasks(spec.dataset)
    train = by_split.get("train", [])
    validation = by_split.get("validation", [])[: hp.validation_tasks]
    if not train:
        raise ValueError(f"{spec.dataset}: no training scenarios (plan_tasks with split == 'train')")

    box: dict[str, Any] = {}

    def build(model, tokenizer, chat, common):
        from datasets import Dataset

        from .srl_trainer import load_srl_examples, validation_selection

        rows = [{"prompt": t.prompt([]), "task": i} for i, t in enumerate(train)]
        steps = [e for e in load_srl_examples(spec.dataset) if e["split"] == "validation"]
        box["selection"] = validation_selection(spec, hp, steps, chat)
        return RLVRTrainer(reward_funcs=simulator, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                           tasks=train, ruleset=ruleset, hp=hp, chat=chat,
                           selection=box["selection"], **common, **grpo_trainer_kwargs(hp))

    def score(peft_model, tokenizer, chat):
        kl_reference = "initial_adapter" if spec.initial_adapter else "base_model"
        played = selection_scores(box.get("selection"), len(by_split.get("validation", [])), hp)
        if played is not None:   # the selection already played these plans with these weights
            return {"validation_success_reference": played[0], "validation_success_trained": played[1],
                    "kl_reference": kl_reference}
        reference = "ref" if "ref" in peft_model.peft_config else None
        with use_adapter(peft_model, adapter_name=reference):
            before = plan_success_rate(peft_model, tokenizer, validation, ruleset, hp, chat)
        return {"validation_success_reference": before,
                "validation_success_trained": plan_success_rate(peft_model, tokenizer, validation, ruleset, hp, chat),
                "kl_reference": kl_reference}

    return run_stage_job(StageJob(spec, hp, len(train), len(validation), build, score), reporter)
