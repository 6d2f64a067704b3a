"""Assets of the game's data: lore source -> monster_lore -> lore_index; rules + game state ->
game_rules -> scenarios. Each is partitioned by species, versioned by content hash.

Validate before publishing: each asset runs the conditions of its blocking checks
(:mod:`srl_pipeline.game.gates`) before it returns, so bad data fails the step with lines naming
file, record and field and the previous good artifact stays byte-identical.
"""


import collections
from typing import Any

import dagster as dg

from ...core.hashing import content_hash
from ...collaboration.guardrails import quarantine_report
from ...game import gates
from ...game.lore_index import LoreIndex
from ...game.rules import ruleset_from_artifact, ruleset_to_artifact
from ...game.scenarios import generate_scenarios
from ..automation.fingerprints import LORE_FINGERPRINT
from ..partitions import species_partitions
from ..shared import lore_from_artifact, species_key
from .resources import GameDataResource, QualitySettings, ScenarioSettings

GROUP = "game_data"


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts",
          kinds={"yaml", "postgres"})
def monster_lore(context: dg.AssetExecutionContext, game_data: GameDataResource,
                 quality: QualitySettings) -> dg.Output[dict]:
    """The species' lore passages, validated (files by default, a PostgreSQL table when configured).
    Passages that read like instructions to the pipeline are listed as ``quarantined`` (the
    collaboration never uses them; the ``lore_quarantine`` check warns their owner)."""
    species = species_key(context)
    lore = game_data.lore_source().load(species)
    records = lore.to_records()
    problems = gates.lore_completeness(records, quality.min_lore_passages, lore.source)
    rules = game_data.rules_if_valid(species)
    if rules is not None:
        problems += gates.lore_against_rules(records, rules.rules.actions, rules.actions, lore.source)
    gates.raise_if_any(problems)
    kinds = collections.Counter(p.kind for p in lore.passages)
    quarantined = quarantine_report(records)
    if quarantined:
        context.log.warning(f"{len(quarantined)} lore passage(s) of {species} quarantined as injection-like: "
                            + ", ".join(q["id"] for q in quarantined))
    return dg.Output(
        {"species": species, "lore_hash": lore.content_hash, "source": lore.source, "passages": records},
        data_version=dg.DataVersion(lore.content_hash),
        metadata={
            "passages": len(lore.passages),
            "by_kind": dg.MetadataValue.json(dict(sorted(kinds.items()))),
            "lore_hash": lore.content_hash,
            LORE_FINGERPRINT: game_data.lore_source().fingerprints().get(species, ""),
            "source": lore.source,
            "quarantined": dg.MetadataValue.json(quarantined),
            "sample": dg.MetadataValue.md("\n".join(f"- **{p.title}** ({p.kind}): {p.text[:120]}" for p in lore.passages[:3])),
        },
    )


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts")
def lore_index(context: dg.AssetExecutionContext, monster_lore: dict) -> dg.Output[dict]:
    """A BM25 index over the lore passages: the offline Lore Retriever searches it."""
    index = LoreIndex.build(lore_from_artifact(monster_lore))
    data = index.to_dict()
    return dg.Output(
        data,
        data_version=dg.DataVersion(content_hash(data)[:16]),
        metadata={"documents": len(index.doc_ids), "vocabulary": index.vocabulary_size, "lore_hash": index.lore_hash},
    )


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts",
          kinds={"yaml"})
def game_rules(context: dg.AssetExecutionContext, game_data: GameDataResource) -> dg.Output[dict]:
    """The rules in force for the species: its rules file under the live world events.

    The data version is the rules version, so a rules edit or a world event that changes what is
    in force marks every downstream asset of that species stale.
    """
    species = species_key(context)
    ruleset = game_data.rules_in_force(species)
    problems = gates.rules_big_enough(len(ruleset.actions), len(ruleset.goals), ruleset.rules.file)
    lore = game_data.lore_if_valid(species)
    if lore is not None:
        problems += gates.lore_against_rules(lore.to_records(), ruleset.rules.actions, ruleset.actions, lore.source)
    gates.raise_if_any(problems)
    data = ruleset_to_artifact(ruleset)
    kinds = collections.Counter(c.kind for c in ruleset.constraints)
    return dg.Output(
        data,
        data_version=dg.DataVersion(ruleset.version),
        metadata={
            "rules_version": ruleset.version,
            "events_in_force": dg.MetadataValue.json(sorted(ruleset.events)),
            "actions": len(ruleset.actions),
            "constraints": dg.MetadataValue.json(dict(kinds)),
            "goals": dg.MetadataValue.json(sorted(ruleset.goals)),
        },
    )


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts")
def scenarios(context: dg.AssetExecutionContext, game_rules: dict, game_data: GameDataResource,
              scenario_settings: ScenarioSettings, quality: QualitySettings) -> dg.Output[dict]:
    """Seeded, solvable encounter scenarios with train / validation / test splits; the test split
    holds out whole (goal, location, moon) combinations."""
    ruleset = ruleset_from_artifact(game_rules)
    spec = scenario_settings.to_settings()
    made = generate_scenarios(ruleset, spec, game_data.world().player_profiles)
    records = [s.to_record() for s in made]
    gates.raise_if_any(gates.split_sizes((s.split for s in made), quality.min_split_sizes,
                                         f"scenarios of {ruleset.species} (profile: scenarios, quality.min_split_sizes)"))
    splits = collections.Counter(s.split for s in made)
    goals = collections.Counter(s.goal for s in made)
    data = {"species": ruleset.species, "rules_version": ruleset.version, "spec": spec.__dict__, "scenarios": records}
    return dg.Output(
        data,
        data_version=dg.DataVersion(content_hash(data)[:16]),
        metadata={
            "scenarios": len(records),
            "splits": dg.MetadataValue.json(dict(splits)),
            "goals": dg.MetadataValue.json(dict(goals)),
            "rules_version": ruleset.version,
            "mean_optimal_steps": round(sum(s.optimal_steps for s in made) / max(1, len(made)), 2),
            "sample": dg.MetadataValue.json(records[:2]),
        },
    )


GAME_ASSETS: list[Any] = [monster_lore, lore_index, game_rules, scenarios]
