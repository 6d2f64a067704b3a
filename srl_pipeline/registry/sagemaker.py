"""The registry in the SageMaker Model Registry: a model package group per species and tier, a
versioned model package per registered adapter, its approval status SageMaker's own, and the
record (lineage, metrics, cost, the gate's reason) as the package's customer metadata.

The same boto3 calls run against AWS and, in the tests, against moto's server on loopback
(``endpoint_url``); nothing here knows which. Customer metadata is a flat string map (keys up to
128 characters, values up to 256), so the record is flattened into ``lineage.*``, ``metric.*`` and
``cost.*`` keys and read back the same way. Status updates pass the package's metadata back
unchanged (an update without it may clear it).
"""

from __future__ import annotations

import re
from typing import Any

from .backend import ModelRegistry, RegistryError
from .records import Candidate, ModelVersion

_NAME = re.compile(r"[^A-Za-z0-9]+")
MAX_VALUE = 256


def group_name(prefix: str, species: str, tier: str) -> str:
    """SageMaker's group names allow letters, digits and single hyphens (63 characters at most)."""
    name = "-".join(_NAME.sub("-", p).strip("-") for p in (prefix, species, tier) if p)
    if len(name) > 63:
        raise RegistryError(f"model package group name {name!r} is longer than SageMaker's 63 characters")
    return name


def _flatten(record: ModelVersion | Candidate) -> dict[str, str]:
    out = {"species": record.species, "tier": record.tier, "model": record.model,
           "adapter_uri": record.adapter_uri, "adapter_version": record.adapter_version,
           "base_model": record.base_model, "gate": record.gate}
    out.update({f"lineage.{k}": str(v) for k, v in record.lineage.items()})
    out.update({f"metric.{k}": repr(float(v)) for k, v in record.metrics.items() if isinstance(v, (int, float))})
    out.update({f"cost.{k}": repr(float(v)) for k, v in record.cost.items() if isinstance(v, (int, float))})
    return {k[:128]: v[:MAX_VALUE] for k, v in out.items() if v is not None and v != ""}


def _unflatten(meta: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"lineage": {}, "metrics": {}, "cost": {}}
    for key, value in meta.items():
        head, _, tail = key.partition(".")
        if tail and head == "lineage":
            out["lineage"][tail] = value
        elif tail and head in ("metric", "cost"):
            out["metrics" if head == "metric" else "cost"][tail] = float(value)
        elif not tail:
            out[key] = value
    return out


class SageMakerRegistry(ModelRegistry):
    def __init__(self, group_prefix: str = "srl", region: str = "us-east-1", endpoint_url: str | None = None,
                 client: Any = None):
        import boto3

        self.prefix = group_prefix
        self.client = client or boto3.client("sagemaker", region_name=region, endpoint_url=endpoint_url or None)
        self.label = f"SageMaker Model Registry (groups {group_prefix}-*)"

    def _group(self, species: str, tier: str, create: bool = False) -> str | None:
        name = group_name(self.prefix, species, tier)
        try:
            self.client.describe_model_package_group(ModelPackageGroupName=name)
        except self.client.exceptions.ClientError as exc:
            if not create:
                return None
            if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
                raise
            self.client.create_model_package_group(
                ModelPackageGroupName=name, ModelPackageGroupDescription=f"srl_pipeline species={species} tier={tier}")
        return name

    def _version(self, package: dict[str, Any]) -> ModelVersion:
        meta = _unflatten(package.get("CustomerMetadataProperties") or {})
        created = package.get("CreationTime")
        return ModelVersion(
            species=meta.get("species", ""), tier=meta.get("tier", ""), version=int(package["ModelPackageVersion"]),
            status=package["ModelApprovalStatus"], model=meta.get("model", ""), adapter_uri=meta.get("adapter_uri", ""),
            adapter_version=meta.get("adapter_version", ""), base_model=meta.get("base_model", ""),
            lineage=meta["lineage"], metrics=meta["metrics"], cost=meta["cost"], gate=meta.get("gate", ""),
            note=package.get("ApprovalDescription") or "",
            created_at=created.isoformat(timespec="seconds") if hasattr(created, "isoformat") else str(created or ""))

    def _packages(self, species: str, tier: str) -> list[dict[str, Any]]:
        group = self._group(species, tier)
        if group is None:
            return []
        arns = []
        for page in self.client.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Ascending"):
            arns += [p["ModelPackageArn"] for p in page["ModelPackageSummaryList"]]
        packages = [self.client.describe_model_package(ModelPackageName=arn) for arn in arns]
        return sorted(packages, key=lambda p: int(p["ModelPackageVersion"]))

    def versions(self, species: str, tier: str) -> list[ModelVersion]:
        return [self._version(p) for p in self._packages(species, tier)]

    def _create(self, candidate: Candidate, status: str, note: str) -> ModelVersion:
        group = self._group(candidate.species, candidate.tier, create=True)
        kwargs: dict[str, Any] = dict(ModelPackageGroupName=group, ModelApprovalStatus=status,
                                      ModelPackageDescription=f"{candidate.model} adapter {candidate.adapter_version} "
                                                              f"on {candidate.base_model}"[:1024],
                                      CustomerMetadataProperties=_flatten(candidate))
        if note:
            kwargs["ModelPackageDescription"] = f"{kwargs['ModelPackageDescription']}; {note}"[:1024]
        arn = self.client.create_model_package(**kwargs)["ModelPackageArn"]
        if note and status:
            self.client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=note[:1000],
                                             CustomerMetadataProperties=kwargs["CustomerMetadataProperties"])
        return self._version(self.client.describe_model_package(ModelPackageName=arn))

    def _set_status(self, version: ModelVersion, status: str, note: str) -> ModelVersion:
        for package in self._packages(version.species, version.tier):
            if int(package["ModelPackageVersion"]) == version.version:
                arn = package["ModelPackageArn"]
                self.client.update_model_package(
                    ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=note[:1000],
                    CustomerMetadataProperties=package.get("CustomerMetadataProperties") or {})
                return self._version(self.client.describe_model_package(ModelPackageName=arn))
        raise RegistryError(f"{self.label}: {version.species}/{version.tier} has no version {version.version}")

    def groups(self) -> list[tuple[str, str]]:
        out = []
        for page in self.client.get_paginator("list_model_package_groups").paginate(NameContains=f"{self.prefix}-"):
            for g in page["ModelPackageGroupSummaryList"]:
                desc = g.get("ModelPackageGroupDescription") or self.client.describe_model_package_group(
                    ModelPackageGroupName=g["ModelPackageGroupName"]).get("ModelPackageGroupDescription", "")
                fields = dict(part.split("=", 1) for part in desc.split() if "=" in part)
                if "species" in fields and "tier" in fields and g["ModelPackageGroupName"].startswith(f"{self.prefix}-"):
                    out.append((fields["species"], fields["tier"]))
        return sorted(set(out))
