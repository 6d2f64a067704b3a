"""Every backend behind the one interface: numbering, production, approval, rollback, the record
read back whole (lineage, metrics, cost) — the same tests against JSON files, PostgreSQL and moto's
SageMaker server."""

from __future__ import annotations

import pytest

from srl_pipeline.registry import APPROVED, PENDING, REJECTED, RegistryError

from .conftest import candidate


def test_versions_are_numbered_per_species_and_tier_and_read_back_whole(registry):
    v1 = registry.register(candidate(success=0.5))
    v2 = registry.register(candidate(success=0.6))
    other = registry.register(candidate(tier="silver", success=0.7))
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    got = registry.versions("vampire", "gold")
    assert [v.version for v in got] == [1, 2]
    assert got[1].lineage == {"lore": "lore123", "rules": "rules456", "trajectories": "traj789", "teacher": "bronze v1"}
    assert got[1].metrics["success_greedy"] == 0.6 and got[1].metrics["parameters"] == 400000.0
    assert got[1].cost == {"train_seconds": 40.0, "usd": 0.01}
    assert got[1].adapter_version == "v0.6" and got[1].model == "gold" and got[1].status == APPROVED
    assert registry.groups() == [("vampire", "gold"), ("vampire", "silver")]


def test_production_is_the_newest_approved_version_and_rollback_goes_back(registry):
    registry.register(candidate(success=0.5))
    registry.register(candidate(success=0.6))
    registry.register(candidate(success=0.9), status=PENDING)
    assert registry.production("vampire", "gold").version == 2          # a pending version is not production
    registry.approve("vampire", "gold", 3, note="looked at the plays")
    assert registry.production("vampire", "gold").version == 3
    back = registry.rollback("vampire", "gold")
    assert back.version == 2 and registry.production("vampire", "gold").version == 2
    v3 = registry.version("vampire", "gold", 3)
    assert v3.status == REJECTED and "rolled back" in v3.note
    assert v3.metrics["success_greedy"] == 0.9 and v3.lineage["rules"] == "rules456"   # the update kept the record


def test_a_rollback_with_nothing_to_go_back_to_is_refused_and_changes_nothing(registry):
    registry.register(candidate())
    with pytest.raises(RegistryError, match="previous approved version"):
        registry.rollback("vampire", "gold")
    assert registry.production("vampire", "gold").version == 1
    with pytest.raises(RegistryError, match="no version 7"):
        registry.approve("vampire", "gold", 7)
    assert registry.production("vampire", "lich") is None and registry.versions("vampire", "lich") == []


def test_sagemaker_keeps_one_model_package_group_per_species_and_tier(sagemaker_registry):
    reg = sagemaker_registry
    reg.register(candidate(species="ghoul", tier="gold"))
    reg.register(candidate(species="ghoul", tier="silver"))
    reg.register(candidate(species="ghoul", tier="silver", success=0.8), status=PENDING)
    groups = {g["ModelPackageGroupName"] for g in reg.client.list_model_package_groups()["ModelPackageGroupSummaryList"]}
    assert {f"{reg.prefix}-ghoul-gold", f"{reg.prefix}-ghoul-silver"} <= groups
    packages = reg.client.list_model_packages(ModelPackageGroupName=f"{reg.prefix}-ghoul-silver")["ModelPackageSummaryList"]
    assert sorted(p["ModelApprovalStatus"] for p in packages) == [APPROVED, PENDING]
    described = reg.client.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    meta = described["CustomerMetadataProperties"]
    assert meta["lineage.teacher"] == "bronze v1" and float(meta["metric.success_greedy"]) in (0.5, 0.8)
