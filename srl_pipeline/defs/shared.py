"""Small helpers shared by the asset modules: rebuild domain objects from upstream artifacts."""

import dagster as dg

from ..game.lore import Passage, SpeciesLore
from ..game.names import validate_species_name


def species_key(context: dg.AssetExecutionContext) -> str:
    return validate_species_name(context.partition_key, "<partition key>")


def lore_from_artifact(monster_lore: dict) -> SpeciesLore:
    passages = tuple(Passage(r["id"], r["kind"], r["title"], r["text"], tuple(r["actions"])) for r in monster_lore["passages"])
    return SpeciesLore(monster_lore["species"], passages, monster_lore["source"])
