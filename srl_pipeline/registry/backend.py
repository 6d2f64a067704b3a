"""The registry's one interface; each backend stores and lists versions, the rest is here once.

A backend implements four primitives (:meth:`ModelRegistry._create`, :meth:`versions`,
:meth:`_set_status`, :meth:`groups`); what production means, approval and rollback are decided by
this base class, so the JSON, PostgreSQL and SageMaker backends cannot disagree about them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timezone

from .records import APPROVED, PENDING, REJECTED, STATUSES, Candidate, ModelVersion


class RegistryError(ValueError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to)."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ModelRegistry(ABC):
    """Registered versions per (species, tier); production is the newest Approved version."""

    label: str = "registry"

    # ---- primitives -------------------------------------------------------------------------
    @abstractmethod
    def _create(self, candidate: Candidate, status: str, note: str) -> ModelVersion:
        """Store a new version (numbered 1, 2, ... within the species' tier) and return it."""

    @abstractmethod
    def versions(self, species: str, tier: str) -> list[ModelVersion]:
        """Every version of the species' tier, oldest first."""

    @abstractmethod
    def _set_status(self, version: ModelVersion, status: str, note: str) -> ModelVersion:
        """Change one version's status; return it as stored."""

    @abstractmethod
    def groups(self) -> list[tuple[str, str]]:
        """Every (species, tier) with at least one version, sorted."""

    # ---- decided once -------------------------------------------------------------------------
    def register(self, candidate: Candidate, status: str = APPROVED, note: str = "") -> ModelVersion:
        if status not in STATUSES:
            raise RegistryError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        return self._create(candidate, status, note)

    def version(self, species: str, tier: str, number: int) -> ModelVersion:
        for v in self.versions(species, tier):
            if v.version == number:
                return v
        raise RegistryError(f"{self.label}: {species}/{tier} has no version {number} "
                            f"(versions: {[v.version for v in self.versions(species, tier)]})")

    def production(self, species: str, tier: str) -> ModelVersion | None:
        """The version in production: the newest Approved one (None when there is none)."""
        approved = [v for v in self.versions(species, tier) if v.status == APPROVED]
        return approved[-1] if approved else None

    def approve(self, species: str, tier: str, number: int, note: str = "approved") -> ModelVersion:
        """Approve a version (pending, or a refused one a person overrides); the newest approved
        version is production, so approving an older one than production changes nothing there."""
        return self._set_status(self.version(species, tier, number), APPROVED, note)

    def reject(self, species: str, tier: str, number: int, note: str = "rejected") -> ModelVersion:
        return self._set_status(self.version(species, tier, number), REJECTED, note)

    def rollback(self, species: str, tier: str, note: str = "rolled back") -> ModelVersion:
        """Reject the version in production; the previous approved version becomes production
        (and is returned). Refused when there is no previous approved version to go back to."""
        approved = [v for v in self.versions(species, tier) if v.status == APPROVED]
        if len(approved) < 2:
            raise RegistryError(f"{self.label}: {species}/{tier} has {len(approved)} approved version(s); "
                                "a rollback needs a previous approved version to go back to")
        self._set_status(approved[-1], REJECTED, f"{note} (v{approved[-1].version} -> v{approved[-2].version})")
        return approved[-2]


__all__ = ["APPROVED", "PENDING", "REJECTED", "ModelRegistry", "RegistryError", "now_iso"]
