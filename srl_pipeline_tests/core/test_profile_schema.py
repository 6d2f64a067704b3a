"""Profiles: every shipped profile fits the schema; secrets are refused without being echoed."""

from __future__ import annotations

import pytest

from srl_pipeline.core.errors import ConfigError
from srl_pipeline.core.profile_schema import check_profile_file, secret_problems
from srl_pipeline.core.profiles import PROFILES_DIR, load_profile
from srl_pipeline.core.yaml_files import read_yaml


@pytest.mark.parametrize("name", ["local", "test", "aws"])
def test_shipped_profiles_fit_the_schema(name):
    check_profile_file(read_yaml(PROFILES_DIR / f"{name}.yaml"), name)
    assert load_profile(name).data


@pytest.mark.parametrize("data, field, env", [
    ({"game": {"postgres_dsn": "postgresql://u:pw@h/db"}}, "postgres_dsn", "SRL_POSTGRES_DSN"),
    ({"collaboration": {"api_key": "abc"}}, "api_key", "SRL_LLM_API_KEY"),
    ({"training_backend": {"env": {"DB_PASSWORD": "pw"}}}, "env.DB_PASSWORD", "DAGSTER_PG_PASSWORD"),
    ({"artifacts": {"base_dir": "postgres://admin:pw@db/x"}}, "base_dir", "SRL_POSTGRES_DSN"),
    ({"collaboration": {"planner": {"model": "sk-abcdefghijklmnopqrstuv"}}}, "planner.model", "SRL_LLM_API_KEY"),
])
def test_secret_values_are_refused_naming_the_env_var(data, field, env):
    with pytest.raises(ConfigError) as err:
        check_profile_file(data, "p.yaml")
    (problem,) = err.value.problems
    assert problem.field == field and env in problem.message
    assert "pw" not in problem.message.replace("password", "") and "sk-abc" not in problem.message


def test_env_var_names_and_token_counts_are_not_secrets():
    assert secret_problems({"collaboration": {"planner": {"api_key_env": "SRL_LLM_API_KEY", "max_tokens": 5}},
                            "evaluation": {"max_new_tokens": 96}}, "p.yaml") == []


def test_the_aws_profile_builds_the_sagemaker_backend_with_the_role_and_image_from_the_environment():
    from srl_pipeline.defs.training.backends import build_training_backend
    from srl_pipeline.defs.training.backends.sagemaker import SageMakerTrainingBackend

    backend = build_training_backend(load_profile("aws").section("training_backend"))
    assert isinstance(backend, SageMakerTrainingBackend)
    assert backend.s3_uri.startswith("s3://") and set(backend.tiers) == {"bronze", "silver", "gold"}
    assert backend.tiers["gold"].instance_type == "ml.g6.12xlarge" and backend.tiers["gold"].spot
    assert backend.tiers["bronze"].instance_count > 1 and all(t.max_runtime_s <= 8 * 3600 for t in backend.tiers.values())
    assert "arn:" not in str(load_profile("aws").data)   # no role ARN in the profile: $SRL_SAGEMAKER_ROLE_ARN


@pytest.mark.parametrize("tier, field", [
    ({"instance_type": "ml.g6.12xlarge", "max_runtime_s": 28801}, "tiers.gold.max_runtime_s"),
    ({"instance_type": "g6.12xlarge"}, "tiers.gold.instance_type"),
    ({"instance_type": "ml.g6.12xlarge", "budget": 5}, "tiers.gold.budget"),
])
def test_sagemaker_tier_settings_are_checked(tier, field):
    data = {"training_backend": {"kind": "sagemaker", "sagemaker": {"s3_uri": "s3://bucket/p", "tiers": {"gold": tier}}}}
    with pytest.raises(ConfigError) as err:
        check_profile_file(data, "p.yaml")
    (problem,) = err.value.problems
    assert problem.file == "p.yaml" and problem.field.endswith(field)
