"""The schema of a deployment profile (``configs/profiles/<name>.yaml``) and the secret guard.

A profile is a file ops hand the pipeline, so it is checked like every other input: each file of an
``extends`` chain on its own (a problem names that file), strict types, unknown keys refused with a
did-you-mean, bounds on counts and rates. The sections mirror the Dagster resources they configure;
``srl_pipeline_tests/core/test_profile_schema.py`` pins every section's keys to its resource, so the
two cannot drift apart.

Secrets never live in a profile: a value that looks like one (an API key, a password, a DSN with a
password) is refused with the environment variable to set instead, and the value itself is never
echoed into a message, a log or an artifact.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import Field

from .errors import ConfigError, Problem
from .turn_budget import TURN_TOKENS
from .validation import Identifier, Strict, text, validate

Path = text(1024, 1)
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
Steps = Annotated[int, Field(ge=0, le=1_000_000)]
Positive = Annotated[int, Field(ge=1, le=1_000_000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, le=1e9)]
Tier = Literal["bronze", "silver", "gold"]
Split = Literal["train", "validation", "test"]


class GameSection(Strict):
    root: Path = "configs/game"
    lore_backend: Literal["files", "postgres"] = "files"
    game_state_backend: Literal["files", "postgres"] = "files"
    lore_table: Name = "srl_lore_passages"
    game_state_table: Name = "srl_game_state"


class ScenariosSection(Strict):
    count: Annotated[int, Field(ge=1, le=100_000)] = 120
    seed: Seed = 0
    test_fraction: Fraction = 0.2
    validation_fraction: Fraction = 0.12
    min_plan_steps: Annotated[int, Field(ge=1, le=32)] = 2
    max_plan_steps: Annotated[int, Field(ge=1, le=32)] = 6
    max_items: Annotated[int, Field(ge=0, le=64)] = 2
    max_attempts_factor: Annotated[int, Field(ge=1, le=1_000)] = 40


class QualitySection(Strict):
    min_lore_passages: Annotated[int, Field(ge=0, le=10_000)] = 12
    min_split_sizes: dict[Split, Annotated[int, Field(ge=0, le=1_000_000)]] = {}


class ArtifactsSection(Strict):
    base_dir: Path = "artifacts"
    # the store the local folder is the working copy of ("" = none; s3://bucket/prefix in aws)
    store_uri: Annotated[str, Field(max_length=1024, pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,62}(/[^\s]*)?)?$")] = ""
    store_endpoint_url: text(1024) = ""   # another S3 endpoint (tests: moto on loopback)


class RoleSection(Strict):
    backend: Literal["offline", "openai"] = "offline"
    base_url: text(1024) = ""
    model: text(256) = ""
    temperature: Annotated[float, Field(ge=0.0, le=5.0)] = 0.7
    max_tokens: Positive = 1024
    timeout_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 60.0
    max_concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    max_retries: Annotated[int, Field(ge=0, le=100)] = 4
    backoff_base_s: NonNegative = 0.5
    backoff_max_s: NonNegative = 30.0
    usd_per_1k_prompt_tokens: NonNegative = 0.0
    usd_per_1k_completion_tokens: NonNegative = 0.0


class CollaborationSection(Strict):
    retriever: RoleSection = RoleSection()
    planner: RoleSection = RoleSection()
    verifier: RoleSection = RoleSection()
    accept_score: Fraction = 0.7
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    lore_passages: Annotated[int, Field(ge=1, le=500)] = 6
    max_concurrency: Annotated[int, Field(ge=1, le=1024)] = 16
    seed: Seed = 0
    cache_dir: Path = "artifacts/cache/trajectories"


class TrajectoriesSection(Strict):
    title_hint: bool = False
    min_steps: Annotated[int, Field(ge=1, le=32)] = 1
    max_steps: Annotated[int, Field(ge=1, le=32)] = 6
    min_acceptance_rate: Fraction = 0.8
    context_tokens: Positive = 2048
    min_train_examples: Steps = 50


class TrainingSection(Strict):
    base_models: dict[Tier, text(1024, 1)] = {}
    warmup_steps: Steps = 400
    base_model_processes: Annotated[int, Field(ge=1, le=64)] = 1
    builtin_tiers: Optional[dict[Tier, dict[Identifier, Positive]]] = None
    seed: Seed = 0
    hyperparameter_profile: Name = "local"
    srl_max_steps: Steps = 20
    rlvr_max_steps: Steps = 10
    sft_max_steps: Steps = 20
    checkpoint_every_steps: Positive = 5
    checkpoint_every_minutes: Annotated[float, Field(gt=0.0, le=10_000.0)] = 30.0
    keep_checkpoints: Annotated[int, Field(ge=1, le=1_000)] = 2
    min_reward_gain: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.02
    reward_check_severity: Literal["error", "warn"] = "error"
    kl_bound: Annotated[float, Field(gt=0.0, le=100.0)] = 0.1
    rlvr_success_tolerance: Fraction = 0.0


class EvaluationSection(Strict):
    k: Annotated[int, Field(ge=0, le=256)] = 4
    temperature: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    max_steps: Annotated[int, Field(ge=1, le=64)] = 8
    max_new_tokens: Annotated[int, Field(ge=1, le=32_768)] = TURN_TOKENS
    batch_size: Annotated[int, Field(ge=1, le=4_096)] = 32
    step_examples: Steps = 64
    seed: Seed = 0
    chat: bool = False
    menu_constrained: bool = False
    kl_bound: Annotated[float, Field(gt=0.0, le=100.0)] = 0.1
    encounters_dir: Path = "configs/eval"


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Usd = Annotated[float, Field(ge=0.0, le=1e7)]
Seconds8h = Annotated[int, Field(ge=1, le=8 * 3600)]   # the project's hard cap per SageMaker job


class SageMakerTierSection(Strict):
    """One tier's SageMaker job (training_backend.sagemaker.tiers.<tier>)."""

    instance_type: Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
    instance_count: Annotated[int, Field(ge=1, le=64)] = 1
    spot: bool = False
    max_runtime_s: Seconds8h = 8 * 3600
    max_wait_s: Optional[Annotated[int, Field(ge=1, le=7 * 24 * 3600)]] = None
    volume_size_gb: Annotated[int, Field(ge=1, le=16_384)] = 100
    usd_per_instance_hour: Usd = 0.0
    budget_usd: Optional[Usd] = None
    image_uri: Optional[text(512, 1)] = None


class SageMakerSection(Strict):
    """The SageMaker backend (training_backend.sagemaker); the role ARN and the default image come
    from $SRL_SAGEMAKER_ROLE_ARN and $SRL_SAGEMAKER_IMAGE_URI."""

    s3_uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_./-]*)?$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = "us-east-1"
    tiers: dict[Tier, SageMakerTierSection] = {}
    entrypoint: Annotated[list[text(256, 1)], Field(min_length=1, max_length=16)] = [
        "python", "-m", "srl_pipeline.training.entrypoint"]
    env: dict[EnvName, text(512)] = {}
    poll_interval_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 30.0
    message_interval_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 10.0
    endpoint_url: Optional[text(1024, 1)] = None


class TrainingBackendSection(Strict):
    kind: Literal["local", "sagemaker"] = "local"
    python: Optional[Path] = None
    env: dict[EnvName, text(4096)] = {}
    max_concurrent_jobs: Annotated[int, Field(ge=1, le=64)] = 2
    sagemaker: Optional[SageMakerSection] = None


class DistillationSection(Strict):
    fresh_scenarios: Annotated[int, Field(ge=0, le=100_000)] = 20
    sampled_plays: Annotated[int, Field(ge=0, le=64)] = 1
    play_temperature: Annotated[float, Field(gt=0.0, le=5.0)] = 1.0
    min_trace_score: Fraction = 0.7
    max_steps: Positive = 12
    incremental_max_steps: Positive = 4
    incremental: bool = True
    keep_share: dict[Literal["silver", "gold"], Fraction] = {"silver": 0.95, "gold": 0.90}


class RegistrySection(Strict):
    backend: Literal["local", "postgres", "sagemaker"] = "local"
    local_dir: text(1024) = ""
    table: Name = "srl_model_registry"
    group_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")] = "srl"
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")] = "us-east-1"
    endpoint_url: text(1024) = ""
    metric: Literal["success_greedy", "success_avg_k", "step_similarity", "handwritten_success_greedy"] = "success_greedy"
    tolerance: Fraction = 0.0
    max_format_error_rate: Fraction = 0.5
    manual_approval: bool = False
    usd_per_hour: dict[Tier, NonNegative] = {}


class AutomationSection(Strict):
    nightly_cascade: bool = False


class ProfileSchema(Strict):
    extends: Optional[Name] = None
    game: GameSection = GameSection()
    scenarios: ScenariosSection = ScenariosSection()
    quality: QualitySection = QualitySection()
    artifacts: ArtifactsSection = ArtifactsSection()
    collaboration: CollaborationSection = CollaborationSection()
    trajectories: TrajectoriesSection = TrajectoriesSection()
    training: TrainingSection = TrainingSection()
    evaluation: EvaluationSection = EvaluationSection()
    training_backend: TrainingBackendSection = TrainingBackendSection()
    distillation: DistillationSection = DistillationSection()
    registry: RegistrySection = RegistrySection()
    automation: AutomationSection = AutomationSection()


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------
DSN_ENV = "SRL_POSTGRES_DSN"
LLM_KEY_ENV = "SRL_LLM_API_KEY"
PG_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"

_SECRET_KEY = re.compile(r"(^|_)(api_?key|apikey|password|passwd|pwd|secret|secret_key|token|access_token|"
                         r"auth_token|credentials?|private_key|dsn)$", re.I)
_URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")
_KEY_LIKE = re.compile(r"^(sk|pk|rk)-[A-Za-z0-9_-]{16,}$|^AKIA[0-9A-Z]{16}$|^gh[pousr]_[A-Za-z0-9]{20,}$|"
                       r"^xox[baprs]-[A-Za-z0-9-]{10,}$")


def _env_for(key: str, value: str) -> str:
    k = key.lower()
    if "dsn" in k or "postgres" in k or value.lower().startswith(("postgres://", "postgresql://")):
        return DSN_ENV
    if "password" in k or "passwd" in k or k.endswith("pwd"):
        return PG_PASSWORD_ENV
    return LLM_KEY_ENV


def secret_problems(data: Any, file: str, path: str = "") -> list[Problem]:
    """Every value of ``data`` that looks like a secret, each naming the environment variable to
    use instead. The value is never part of the message."""
    out: list[Problem] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, (dict, list)):
                out += secret_problems(value, file, where)
            elif isinstance(value, str) and value.strip():
                section, _, field = where.partition(".")
                record, fld = (section, field) if field else ("<file>", where)
                if _SECRET_KEY.search(str(key)) and not str(key).lower().endswith("_env"):
                    why = "looks like a secret"
                elif _URL_WITH_PASSWORD.match(value):
                    why = "is a URL or DSN carrying a password"
                elif _KEY_LIKE.match(value):
                    why = "looks like an API key"
                else:
                    continue
                env = _env_for(str(key), value)
                out.append(Problem(file, record, fld, f"{why}; secrets never go in a configuration file: set the environment "
                                                      f"variable {env} instead and remove this value"))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            out += secret_problems(item, file, f"{path}[{i}]")
    return out


def check_profile_file(data: dict[str, Any], file: str) -> ProfileSchema:
    """One profile file (before ``extends`` is merged): secrets first (their values must not reach
    any other message), then the schema; every problem raised together as a ConfigError."""
    secrets = secret_problems(data, file)
    if secrets:
        raise ConfigError(secrets)

    def locate(loc: tuple) -> tuple[str, tuple]:
        return (str(loc[0]), loc[1:] or ("<section>",)) if len(loc) > 1 else ("<file>", loc)

    return validate(ProfileSchema, data, file, ConfigError, locate)
