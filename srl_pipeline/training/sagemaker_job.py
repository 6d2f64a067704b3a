"""A SageMaker training job for one job spec, as plain data: its name, its CreateTrainingJob
request, its cost before launch (refused over the budget) and after (billable seconds, spot
savings). No Dagster and no boto3 here: the Dagster Pipes client sends what this builds.

Names are the job's identity (stage, species, the checkpoint key of job_identity) plus an attempt
number, so a retry of the same spec finds the job it already launched instead of launching a
duplicate, and a job re-created after a failure or a stop (a new attempt: SageMaker names are
unique forever) keeps the same checkpoint S3 URI and resumes from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .job_identity import checkpoint_key
from .job_spec import TrainingJobSpec

MAX_RUNTIME_CAP_S = 8 * 3600          # the project's hard cap per job (SageMaker allows 28 days)
CONTAINER_CHECKPOINTS = "/opt/ml/checkpoints"
CHANNELS = ("spec", "dataset", "base_model", "initial_adapter")
TERMINAL = ("Completed", "Failed", "Stopped")
RUNNING = ("InProgress", "Stopping")
_NAME_MAX = 63


class BudgetExceeded(ValueError):
    """The job's worst-case cost is above the tier's per-job budget: it is not launched."""


@dataclass(frozen=True)
class TierJobSettings:
    """What one tier's training job runs on (the AWS profile's ``training_backend.sagemaker.tiers``)."""

    instance_type: str
    instance_count: int = 1
    spot: bool = False
    max_runtime_s: int = MAX_RUNTIME_CAP_S
    max_wait_s: int | None = None
    volume_size_gb: int = 100
    usd_per_instance_hour: float = 0.0
    budget_usd: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_runtime_s <= MAX_RUNTIME_CAP_S:
            raise ValueError(f"max_runtime_s must be in 1..{MAX_RUNTIME_CAP_S} (8 h), got {self.max_runtime_s}")
        if self.spot and (self.max_wait_s or 0) < self.max_runtime_s:
            raise ValueError(f"spot training needs max_wait_s >= max_runtime_s ({self.max_runtime_s}), "
                             f"got {self.max_wait_s}")


def job_identity(spec: TrainingJobSpec) -> str:
    """The spec's checkpoint key: the same data, model, hyperparameters, steps and seed."""
    return checkpoint_key(spec.dataset, spec.base_model, spec.hyperparameters, spec.max_steps, spec.seed,
                          spec.initial_adapter)


def base_job_name(spec: TrainingJobSpec) -> str:
    """``srl-<stage>-<species>-<key>``: SageMaker's [a-zA-Z0-9-], at most 63 with the attempt suffix."""
    species = re.sub(r"[^a-zA-Z0-9-]", "-", spec.species)
    name = f"srl-{spec.stage}-{species}"[: _NAME_MAX - 1 - 12 - 4]
    return f"{name}-{job_identity(spec)[:12]}"


def attempt_name(base: str, attempt: int) -> str:
    return f"{base}-a{attempt}"


def attempt_of(name: str, base: str) -> int | None:
    m = re.fullmatch(re.escape(base) + r"-a(\d+)", name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class LaunchDecision:
    """What to do for a spec given the attempts SageMaker knows: attach to ``name`` or create it."""

    name: str
    create: bool
    previous_status: str | None = None


def decide_launch(base: str, existing: dict[str, str]) -> LaunchDecision:
    """``existing``: job name -> TrainingJobStatus of this spec's attempts. The newest attempt that is
    running or completed is attached to (no duplicate launch, no second bill); after a failed or
    stopped one the next attempt is created (it resumes from the shared checkpoint URI)."""
    attempts = sorted((a, n) for n in existing if (a := attempt_of(n, base)) is not None)
    if not attempts:
        return LaunchDecision(attempt_name(base, 1), create=True)
    number, name = attempts[-1]
    status = existing[name]
    if status in RUNNING or status == "Completed":
        return LaunchDecision(name, create=False, previous_status=status)
    return LaunchDecision(attempt_name(base, number + 1), create=True, previous_status=status)


@dataclass(frozen=True)
class CostEstimate:
    usd: float
    hours: float
    text: str


def estimate_cost(tier: TierJobSettings) -> CostEstimate:
    """The worst case a launch can bill: every instance for the whole ``max_runtime_s``, at the
    on-demand price (a spot discount is not known before the job runs)."""
    hours = tier.max_runtime_s / 3600
    usd = tier.instance_count * hours * tier.usd_per_instance_hour
    text = (f"{tier.instance_count} x {tier.instance_type} x {hours:.2f} h (max_runtime_s {tier.max_runtime_s}) "
            f"at ${tier.usd_per_instance_hour:.2f}/h = ${usd:.2f}")
    return CostEstimate(round(usd, 2), hours, text)


def check_budget(tier: TierJobSettings, tier_name: str, what: str) -> CostEstimate:
    """Refuse (BudgetExceeded, before any AWS call) a job whose worst case is above the budget."""
    estimate = estimate_cost(tier)
    if tier.budget_usd is not None and estimate.usd > tier.budget_usd:
        raise BudgetExceeded(
            f"{what}: refused before launch: the estimated cost {estimate.text} exceeds the per-job budget "
            f"${tier.budget_usd:.2f} (training_backend.sagemaker.tiers.{tier_name}.budget_usd); lower max_runtime_s "
            f"or instance_count, or raise the budget")
    return estimate


def actual_cost(description: dict[str, Any], tier: TierJobSettings) -> dict[str, Any]:
    """Cost of a finished job from DescribeTrainingJob: billable seconds x instances x the profile's
    price; spot savings as SageMaker computes them (1 - billable / training time)."""
    training = int(description.get("TrainingTimeInSeconds") or 0)
    billable = int(description.get("BillableTimeInSeconds") or training)
    count = int(description.get("ResourceConfig", {}).get("InstanceCount", tier.instance_count))
    usd = billable * count * tier.usd_per_instance_hour / 3600
    savings = 100.0 * (1 - billable / training) if training else 0.0
    return {"training_seconds": training, "billable_seconds": billable, "instance_count": count,
            "instance_type": tier.instance_type, "cost_usd": round(usd, 4), "spot": tier.spot,
            "spot_savings_pct": round(savings, 1), "budget_usd": tier.budget_usd,
            "over_budget": tier.budget_usd is not None and usd > tier.budget_usd}


def create_request(name: str, tier: TierJobSettings, *, image_uri: str, role_arn: str, channels: dict[str, str],
                   output_s3: str, checkpoint_s3: str, environment: dict[str, str],
                   entrypoint: list[str], tags: dict[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request: each input an S3 channel (File mode), the model to
    ``output_s3``, checkpoints synced between ``checkpoint_s3`` and /opt/ml/checkpoints."""
    stopping = {"MaxRuntimeInSeconds": tier.max_runtime_s}
    if tier.spot:
        stopping["MaxWaitTimeInSeconds"] = int(tier.max_wait_s)
    too_long = {k: v for k, v in environment.items() if len(v) > 512}
    if too_long:
        raise ValueError(f"SageMaker Environment values are at most 512 characters: {sorted(too_long)}")
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": entrypoint},
        "RoleArn": role_arn,
        "InputDataConfig": [
            {"ChannelName": channel, "InputMode": "File",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                             "S3DataDistributionType": "FullyReplicated"}}}
            for channel, uri in channels.items()],
        "OutputDataConfig": {"S3OutputPath": output_s3},
        "ResourceConfig": {"InstanceType": tier.instance_type, "InstanceCount": tier.instance_count,
                           "VolumeSizeInGB": tier.volume_size_gb},
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": tier.spot,
        "CheckpointConfig": {"S3Uri": checkpoint_s3, "LocalPath": CONTAINER_CHECKPOINTS},
        "Environment": dict(environment),
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
