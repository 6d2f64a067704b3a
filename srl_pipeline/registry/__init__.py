"""The model registry (DESIGN.md §6): per species and tier, every registered adapter with its
lineage, metrics, cost and approval status, behind one interface with three backends (JSON files
with the deployment, PostgreSQL, the SageMaker Model Registry), and the no-regression gate that
decides whether a candidate may replace the version in production. No Dagster here."""

from .backend import ModelRegistry, RegistryError
from .gate import GateDecision, promotion_decision
from .records import APPROVED, PENDING, REJECTED, STATUSES, Candidate, ModelVersion, estimate_cost

__all__ = ["APPROVED", "PENDING", "REJECTED", "STATUSES", "Candidate", "GateDecision", "ModelRegistry",
           "ModelVersion", "RegistryError", "estimate_cost", "promotion_decision"]
