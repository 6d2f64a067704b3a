"""Assets of the three-model collaboration: expert_trajectories -> srl_dataset."""

import collections
import time

import dagster as dg

from ...collaboration.jobs import SpeciesContext, TrajectoryJob
from ...core.hashing import content_hash
from ...game.lore_index import LoreIndex
from ...game.rules import ruleset_from_artifact
from ...game.scenarios import Scenario
from ...training.srl_dataset import SRLDatasetSpec, build_plan_tasks, build_srl_examples
from ..partitions import species_partitions
from ..game.resources import ScenarioSettings
from .resources import CollaborationResource, DatasetSettings
from ..shared import lore_from_artifact, species_key

GROUP = "trajectories"


def _histogram(values: list[float], edges: list[float]) -> dict[str, int]:
    out = {}
    for lo, hi in zip(edges, edges[1:]):
        out[f"[{lo:.1f}, {hi:.1f}{']' if hi == edges[-1] else ')'}"] = sum(
            1 for v in values if lo <= v < hi or (hi == edges[-1] and v == hi))
    return out


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts",
          pool="llm_endpoints", kinds={"openai"})
def expert_trajectories(context: dg.AssetExecutionContext, monster_lore: dict, lore_index: dict, game_rules: dict,
                        scenarios: dict, collaboration: CollaborationResource,
                        scenario_settings: ScenarioSettings) -> dg.Output[dict]:
    """Verified expert trajectories: Lore Retriever -> Teacher Planner -> Verifier, regenerated with
    the verifier's reasons up to the attempt limit, cached by content."""
    species = species_key(context)
    ruleset = ruleset_from_artifact(game_rules)
    ctx = SpeciesContext(ruleset, lore_from_artifact(monster_lore), LoreIndex.from_dict(lore_index))
    jobs = [TrajectoryJob(Scenario.from_record(r, ruleset), ctx) for r in scenarios["scenarios"]]
    collab = collaboration.build(species, scenario_settings.max_plan_steps)
    started = time.monotonic()
    try:
        results = collab.orchestrator.run(jobs)
    finally:
        collab.close()
    seconds = time.monotonic() - started
    records = [r.to_record() for r in results]
    accepted = [r for r in results if r.accepted]
    stats = dict(collab.orchestrator.stats)
    usage = collab.meter.snapshot()
    rejections = collections.Counter(r.rejection_reason for r in results if not r.accepted)
    attempts = collections.Counter(len(r.attempts) for r in results if not r.cache_hit)
    data = {"species": species, "rules_version": ruleset.version, "settings": collaboration.to_settings().cache_identity(),
            "trajectories": records, "stats": stats, "usage": usage}
    return dg.Output(
        data,
        data_version=dg.DataVersion(content_hash([(r["scenario_id"], r["accepted"], r["plan"]) for r in records])[:16]),
        metadata={
            "trajectories": len(results),
            "accepted": len(accepted),
            "acceptance_rate": round(len(accepted) / max(1, len(results)), 4),
            "score_distribution": dg.MetadataValue.json(_histogram([r.score for r in results], [0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0])),
            "mean_score_accepted": round(sum(r.score for r in accepted) / max(1, len(accepted)), 4),
            "attempts_per_trajectory": dg.MetadataValue.json({str(k): v for k, v in sorted(attempts.items())}),
            "rejections_by_reason": dg.MetadataValue.json(dict(rejections)),
            "cache_hits": stats.get("cache_hits", 0),
            "cache_misses": stats.get("cache_misses", 0),
            "failed_attempts": dg.MetadataValue.json({k: v for k, v in stats.items() if k.startswith("failed_attempts")}),
            "usage_by_role": dg.MetadataValue.json(usage),
            "estimated_cost_usd": round(sum(u.get("cost_usd", 0.0) for u in usage.values()), 6),
            "lore_quarantined": dg.MetadataValue.json(sorted({q for r in results for q in r.quarantined})),
            "wall_seconds": round(seconds, 2),
            "sample": dg.MetadataValue.md("```\n" + (accepted[0].plan if accepted else "(none accepted)") + "\n```"),
        },
    )


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="3", io_manager_key="artifacts")
def srl_dataset(context: dg.AssetExecutionContext, expert_trajectories: dict, scenarios: dict, game_rules: dict,
                monster_lore: dict, dataset_settings: DatasetSettings) -> dg.Output[dict]:
    """Step-wise SRL examples: per accepted trajectory of N steps, N (prompt, target step) pairs;
    splits follow the scenarios. Also the full-plan tasks (one per scenario) and the rules in
    force, which RLVR and evaluation need to run the simulator."""
    ruleset = ruleset_from_artifact(game_rules)
    by_id = {r["id"]: Scenario.from_record(r, ruleset) for r in scenarios["scenarios"]}
    lore_by_id = {p["id"]: p for p in monster_lore["passages"]}
    examples = build_srl_examples(expert_trajectories["trajectories"], by_id, ruleset, lore_by_id,
                                  SRLDatasetSpec(title_hint=dataset_settings.title_hint))
    splits = collections.Counter(e["split"] for e in examples)
    lengths = [e["prompt_tokens"] + e["target_tokens"] for e in examples]
    data = {"species": species_key(context), "rules_version": ruleset.version, "title_hint": dataset_settings.title_hint,
            "examples": examples,
            "plan_tasks": build_plan_tasks(expert_trajectories["trajectories"], by_id, ruleset, lore_by_id),
            "rules": game_rules}
    return dg.Output(
        data,
        data_version=dg.DataVersion(content_hash(data)[:16]),
        metadata={
            "examples": len(examples),
            "splits": dg.MetadataValue.json(dict(splits)),
            "max_tokens": max(lengths, default=0),
            "mean_tokens": round(sum(lengths) / max(1, len(lengths)), 1),
            "title_hint": dataset_settings.title_hint,
            "sample": dg.MetadataValue.md(f"**prompt**\n```\n{examples[0]['prompt']}\n```\n**target**\n```\n{examples[0]['target']}\n```"
                                          if examples else "(empty)"),
        },
    )


COLLABORATION_ASSETS = [expert_trajectories, srl_dataset]
