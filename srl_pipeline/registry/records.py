"""What the registry stores: one :class:`ModelVersion` per registered adapter of a species' tier.

The approval statuses are SageMaker Model Registry's own (``Approved``, ``PendingManualApproval``,
``Rejected``) so the three backends mean the same thing by them. The version *in production* of a
species' tier is its newest ``Approved`` version: approving a newer one promotes it, rejecting the
production one (a rollback) hands production back to the previous approved one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"
STATUSES = (APPROVED, PENDING, REJECTED)


@dataclass(frozen=True)
class Candidate:
    """An adapter offered for registration (the registry assigns the version number)."""

    species: str
    tier: str
    model: str                      # the catalogue's model name (srl_rlvr, silver, gold)
    adapter_uri: str                # where the adapter's files are (a folder or s3:// prefix)
    adapter_version: str            # the hash of its weights (the asset's data version)
    base_model: str
    lineage: dict[str, Any] = field(default_factory=dict)   # lore, rules, trajectories, teacher
    metrics: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)    # train_seconds, usd
    gate: str = ""                  # why the gate let it through or refused it


@dataclass(frozen=True)
class ModelVersion:
    """A registered version: the candidate, its number in the species' tier, status and time."""

    species: str
    tier: str
    version: int
    status: str
    model: str
    adapter_uri: str
    adapter_version: str
    base_model: str
    lineage: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    gate: str = ""
    note: str = ""                  # the last status change's reason (approval, rollback)
    created_at: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @classmethod
    def from_candidate(cls, c: Candidate, version: int, status: str, created_at: str, note: str = "") -> "ModelVersion":
        return cls(species=c.species, tier=c.tier, version=version, status=status, model=c.model,
                   adapter_uri=c.adapter_uri, adapter_version=c.adapter_version, base_model=c.base_model,
                   lineage=dict(c.lineage), metrics=dict(c.metrics), cost=dict(c.cost), gate=c.gate, note=note,
                   created_at=created_at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelVersion":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def estimate_cost(train_seconds: float, usd_per_hour: float) -> dict[str, float]:
    """Train seconds and the estimated dollars at the tier's instance price (per hour)."""
    seconds = max(0.0, float(train_seconds))
    return {"train_seconds": round(seconds, 2), "usd": round(seconds / 3600.0 * float(usd_per_hour), 6),
            "usd_per_hour": float(usd_per_hour)}
