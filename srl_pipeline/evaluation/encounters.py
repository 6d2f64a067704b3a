"""Encounters a person wrote (a scenario file, checked by ``game.scenario_files``) as evaluation
inputs: plan tasks whose lore the offline retriever picks, as the collaboration does for generated
scenarios, and the step-wise examples of the encounters that carry a reference plan. Used by
``srl-pipeline eval`` and by ``model_evaluation`` for each species' hand-written encounters
(``configs/eval/<species>_encounters.jsonl``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENCOUNTERS_FILE = "{species}_encounters.jsonl"


def encounters_path(folder: Path, species: str) -> Path:
    return Path(folder) / ENCOUNTERS_FILE.format(species=species)


def encounter_tasks(scenarios: list[tuple[Any, list[str]]], ruleset: Any, lore: Any, index: Any,
                      lore_passages: int = 6) -> tuple[list[Any], list[dict[str, Any]]]:
    """PlanTasks (scenario text + the lore the offline BM25 retriever picks, as the collaboration
    does) and the step-wise examples of the scenarios that carry expert steps."""
    from ..collaboration.jobs import SpeciesContext, TrajectoryJob
    from ..collaboration.offline_roles import LexicalRetriever
    from ..collaboration.prompts import describe_lore, describe_scenario
    from ..training.plan_rollout import PlanTask

    context = SpeciesContext(ruleset, lore, index)
    retriever = LexicalRetriever(k=lore_passages)
    tasks, examples = [], []
    for sc, steps in scenarios:
        retrieval = retriever.retrieve(TrajectoryJob(sc, context))
        scenario_text = describe_scenario(sc, ruleset)
        lore_text = describe_lore(retrieval.passages)
        task = PlanTask(sc, scenario_text, lore_text, tuple(steps), ruleset)
        tasks.append(task)
        for k, target in enumerate(steps, start=1):  # the turn contract after the reference plan's first k-1 steps
            examples.append({"id": f"{sc.id}:{k}", "scenario_id": sc.id, "goal": sc.goal, "step": k,
                             "prompt": task.prompt(steps[: k - 1]), "target": target})
    return tasks, examples
