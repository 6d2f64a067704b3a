"""Step-wise SRL examples (arXiv 2510.25992): a verified trajectory of N steps gives N examples.

Example k: prompt = the turn contract (:mod:`srl_pipeline.game.turn`) after the expert's steps
1..k-1 replayed through the simulator (goal, retrieved lore, steps so far, the current state and
what the last step changed); target = the expert's step k. Optionally the prompt carries step k's title as a hint (the paper's
footnote). Splits follow the scenarios, so no test scenario reaches training data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..collaboration.prompts import describe_lore, describe_scenario
from ..game.rules import RuleSet
from ..game.scenarios import Scenario
from ..game.steps import parse_step
from ..game.turn import scenario_turn_prompt

_TOKEN = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """Upper-bound-ish token count (words and punctuation) until the Bronze tokenizer exists."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class SRLDatasetSpec:
    title_hint: bool = False


def build_srl_examples(trajectories: Iterable[dict[str, Any]], scenarios: dict[str, Scenario], ruleset: RuleSet,
                       lore_by_id: dict[str, dict[str, Any]], spec: SRLDatasetSpec) -> list[dict[str, Any]]:
    examples = []
    for t in trajectories:
        if not t["accepted"]:
            continue
        sc = scenarios[t["scenario_id"]]
        lore_text = describe_lore(lore_by_id[i] for i in t["retrieved"] if i in lore_by_id)
        steps = t["steps"]
        for k, target in enumerate(steps, start=1):
            hint = parse_step(target).title if spec.title_hint else None
            prompt = scenario_turn_prompt(sc.species, sc.goal, ruleset, sc.state, lore_text, steps[: k - 1], hint)
            examples.append({
                "id": f"{sc.id}:{k}", "scenario_id": sc.id, "species": sc.species, "split": sc.split,
                "goal": sc.goal, "step": k, "n_steps": len(steps), "prompt": prompt, "target": target,
                "prompt_tokens": approx_tokens(prompt), "target_tokens": approx_tokens(target),
                "rules_version": t["rules_version"],
            })
    return examples


def build_plan_tasks(trajectories: Iterable[dict[str, Any]], scenarios: dict[str, Scenario], ruleset: RuleSet,
                     lore_by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One full-plan task per scenario (RLVR trains on the train split, evaluation uses the test
    split): the scenario, the same scenario and lore text the SRL prompts carry, and the expert's
    steps when its trajectory was accepted. Scenarios whose trajectory was rejected are kept: a
    model is evaluated on every held-out scenario, not only on the ones the teacher solved."""
    from .plan_rollout import PlanTask

    tasks = []
    for t in trajectories:
        sc = scenarios[t["scenario_id"]]
        lore_text = describe_lore(lore_by_id[i] for i in t["retrieved"] if i in lore_by_id)
        steps = tuple(t["steps"]) if t["accepted"] else ()
        tasks.append({"split": sc.split, "goal": sc.goal,
                      **PlanTask(sc, describe_scenario(sc, ruleset), lore_text, steps).to_record()})
    return tasks
