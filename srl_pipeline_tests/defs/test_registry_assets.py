"""registered_models through Dagster: every tier of the main run registered in the local registry
with lineage (the data versions of lore, rules and trajectories; the teacher), metrics, cost and
status; the registry CLI lists them."""

import dagster as dg

from srl_pipeline.core.atomic import read_json
from srl_pipeline.registry.local import LocalRegistry

from .conftest import check_results


def test_every_tier_is_registered_with_lineage_metrics_and_cost(trained):
    runner, _, result, artifacts, *_ = trained
    reg = LocalRegistry(artifacts / "registry")
    assert reg.groups() == [("zombie", "bronze"), ("zombie", "gold"), ("zombie", "silver")]
    versions = {t: reg.production("zombie", t) for t in ("bronze", "silver", "gold")}
    assert all(v is not None and v.version == 1 and v.status == "Approved" for v in versions.values()), versions
    lore = runner.instance.get_latest_materialization_event(dg.AssetKey("monster_lore")).tags["dagster/data_version"]
    for tier, v in versions.items():
        assert v.lineage["lore"] == lore and v.lineage["rules"] != "unknown" and v.lineage["trajectories"] != "unknown"
        assert v.cost["train_seconds"] > 0 and "usd" in v.cost and 0.0 <= v.metrics["success_greedy"] <= 1.0
        assert (artifacts / "registry" / "adapters" / "zombie" / tier / v.adapter_version / "adapter_model.safetensors").is_file()
        assert v.adapter_uri.endswith(v.adapter_version) and "first version" in v.gate
    assert versions["silver"].lineage["teacher"].startswith("bronze ") and versions["gold"].lineage["teacher"].startswith("silver ")
    assert versions["bronze"].lineage["teacher"] == "none (SRL -> RLVR)"
    out = read_json(artifacts / "registered_models" / "zombie.json")
    assert {t: o["production"] for t, o in out["tiers"].items()} == {"bronze": 1, "silver": 1, "gold": 1}
    assert check_results(result)["every_tier_in_production"] is True
    md = runner.instance.get_latest_materialization_event(dg.AssetKey("registered_models")).asset_materialization.metadata
    assert [r.data["tier"] for r in md["tiers"].value.records] == ["bronze", "silver", "gold"]


def test_the_registry_cli_lists_the_registered_tiers(trained):
    from srl_pipeline.cli.registry_command import format_versions

    artifacts = trained[3]
    text = format_versions(LocalRegistry(artifacts / "registry"), species="zombie")
    assert "zombie/gold: production v1" in text and "lineage: lore " in text and "teacher silver " in text
