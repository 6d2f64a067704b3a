"""Assets of the game's data: lore source -> monster_lore -> lore_index; rules + game state ->
game_rules -> scenarios. Each is partitioned by species, versioned by content hash."""


import collections
from typing import Any

import dagster as dg

from ...core.hashing import content_hash
from ...game.lore_index import LoreIndex
from ...game.rules import ruleset_from_artifact, ruleset_to_artifact
from ...game.scenarios import generate_scenarios
from ..automation.fingerprints import LORE_FINGERPRINT
from ..partitions import species_partitions
from ..shared import lore_from_artifact, species_key
from .resources import GameDataResource, ScenarioSettings

GROUP = "game_data"


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts",
          kinds={"yaml", "postgres"})
def monster_lore(context: dg.AssetExecutionContext, game_data: GameDataResource) -> dg.Output[dict]:
    """The species' lore passages, validated (files by default, a PostgreSQL table when configured)."""
    species = species_key(context)
    lore = game_data.lore_source().load(species)
    kinds = collections.Counter(p.kind for p in lore.passages)
    return dg.Output(
        {"species": species, "lore_hash": lore.content_hash, "source": lore.source, "passages": lore.to_records()},
        data_version=dg.DataVersion(lore.content_hash),
        metadata={
            "passages": len(lore.passages),
            "by_kind": dg.MetadataValue.json(dict(sorted(kinds.items()))),
            "lore_hash": lore.content_hash,
            LORE_FINGERPRINT: game_data.lore_source().fingerprints().get(species, ""),
            "source": lore.source,
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
              scenario_settings: ScenarioSettings) -> dg.Output[dict]:
    """Seeded, solvable encounter scenarios with train / validation / test splits; the test split
    holds out whole (goal, location, moon) combinations."""
    ruleset = ruleset_from_artifact(game_rules)
    spec = scenario_settings.to_settings()
    made = generate_scenarios(ruleset, spec, game_data.world().player_profiles)
    records = [s.to_record() for s in made]
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
