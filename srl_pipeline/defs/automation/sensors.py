"""Sensors: lore changes (new species, changed lore) and rules / game-state changes."""


import json

import dagster as dg

from ...game.errors import GameDataError
from .fingerprints import materialized_fingerprint
from .jobs import main_job, rules_refresh_job
from ..partitions import species_partitions
from ..game.resources import GameDataResource


def diff_fingerprints(old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[str]]:
    """(species that appeared, species whose fingerprint changed), both sorted."""
    appeared = sorted(s for s in new if s not in old)
    changed = sorted(s for s in new if s in old and old[s] != new[s])
    return appeared, changed


@dg.sensor(job=main_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds the partition of every species whose lore appears and runs exactly the species whose lore changed.")
def lore_change_sensor(context: dg.SensorEvaluationContext, game_data: GameDataResource) -> dg.SensorResult:
    old = json.loads(context.cursor) if context.cursor else {}
    new = game_data.lore_source().fingerprints()
    if not context.cursor and context.instance:
        # First tick (a fresh daemon on an instance `srl-pipeline main` already filled): a species
        # whose lore is exactly what was last materialised is not new and needs no run.
        old = {s: f for s in new if (f := materialized_fingerprint(context.instance, s)) is not None}
    appeared, changed = diff_fingerprints(old, new)
    known = set(context.instance.get_dynamic_partitions(species_partitions.name)) if context.instance else set()
    to_add = [s for s in new if s not in known]
    if game_data.lore_backend == "files":
        for problem in game_data.files().invalid_species():
            context.log.warning(f"ignored: {problem}")
    runs = [dg.RunRequest(run_key=f"lore:{s}:{new[s]}", partition_key=s, tags={"trigger": "lore_change"})
            for s in appeared + changed]
    if appeared or changed:
        context.log.info(f"new species: {appeared or 'none'}; changed lore: {changed or 'none'}")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[species_partitions.build_add_request(to_add)] if to_add else [],
        cursor=json.dumps(new, sort_keys=True),
    )


@dg.sensor(job=rules_refresh_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Re-derives the rules in force for exactly the species whose rules version changed (rules files or live world events).")
def rules_change_sensor(context: dg.SensorEvaluationContext, game_data: GameDataResource) -> dg.SensorResult:
    old = json.loads(context.cursor) if context.cursor else {}
    known = context.instance.get_dynamic_partitions(species_partitions.name) if context.instance else []
    new: dict[str, str] = {}
    for species in known:
        try:
            new[species] = game_data.rules_in_force(species).version
        except GameDataError as exc:
            context.log.error(f"rules of {species!r} are invalid, not refreshing:\n{exc}")
            if species in old:
                new[species] = old[species]
    _, changed = diff_fingerprints(old, new)
    runs = [dg.RunRequest(run_key=f"rules:{s}:{new[s]}", partition_key=s, tags={"trigger": "rules_change"}) for s in changed]
    return dg.SensorResult(run_requests=runs, cursor=json.dumps(new, sort_keys=True))
