"""What a sensor compares: the lore source's fingerprint of a species, as monster_lore records it."""

import dagster as dg

LORE_FINGERPRINT = "lore_fingerprint"  # monster_lore's metadata: the source fingerprint it was made from


def materialized_fingerprint(instance: dg.DagsterInstance, species: str) -> str | None:
    """The lore fingerprint of the species' latest monster_lore materialisation, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("monster_lore"), asset_partitions=[species]), limit=1).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get(LORE_FINGERPRINT) if records[0].asset_materialization else None
    return getattr(value, "value", value)
