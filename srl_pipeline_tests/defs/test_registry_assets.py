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
    floor = out["untrained_base"]
    assert floor["metric"] == "success_greedy" and 0.0 <= floor["value"] <= 1.0   # the untrained base's, from the evaluation
    learnt = all(o["metrics"]["success_greedy"] > floor["value"] for o in out["tiers"].values())
    assert check_results(result)["tiers_beat_the_untrained_base"] is learnt   # WARN: reported, the run went on
    md = runner.instance.get_latest_materialization_event(dg.AssetKey("registered_models")).asset_materialization.metadata
    assert [r.data["tier"] for r in md["tiers"].value.records] == ["bronze", "silver", "gold"]


def test_the_registry_cli_lists_the_registered_tiers(trained):
    from srl_pipeline.cli.registry_command import format_versions

    artifacts = trained[3]
    text = format_versions(LocalRegistry(artifacts / "registry"), species="zombie")
    assert "zombie/gold: production v1" in text and "lineage: lore " in text and "teacher silver " in text


def test_a_tier_that_plays_no_better_than_the_untrained_base_is_reported():
    from srl_pipeline.defs.registry.checks import tiers_beat_the_untrained_base

    def registered(bronze, silver, base):
        return {"tiers": {"bronze": {"status": "Approved", "metrics": {"success_greedy": bronze}},
                          "silver": {"status": "Approved", "metrics": {"success_greedy": silver}},
                          "gold": {"status": "skipped"}},
                "untrained_base": {"metric": "success_greedy", "value": base}}

    lich = tiers_beat_the_untrained_base(registered(0.0, 0.2, 0.0))   # main run 8's lich: every tier 0 %, base 0 %
    assert not lich.passed and lich.severity == dg.AssetCheckSeverity.WARN
    assert lich.metadata["result"].value == ("success_greedy: bronze 0, silver 0.2; untrained base 0; "
                                             "no better than the untrained base: ['bronze']")
    assert tiers_beat_the_untrained_base(registered(0.45, 0.4, 0.0)).passed
    assert not tiers_beat_the_untrained_base(registered(0.45, 0.4, None)).passed   # nothing to compare with: said
