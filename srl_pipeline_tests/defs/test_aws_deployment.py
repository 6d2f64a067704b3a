"""The AWS deployment's instance config (configs/dagster/dagster.aws.yaml) is valid for Dagster
and its ECS run launcher, and passes the SageMaker settings to every run's task."""

from __future__ import annotations

from srl_pipeline.core.profiles import PROJECT_ROOT

AWS_YAML = PROJECT_ROOT / "configs" / "dagster" / "dagster.aws.yaml"


def test_the_aws_instance_config_validates_against_dagsters_schemas(monkeypatch):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_aws.ecs import EcsRunLauncher

    for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(key, "5432" if key.endswith("PORT") else "x")
    config, _ = dagster_instance_config(str(AWS_YAML.parent), config_filename=AWS_YAML.name)
    assert "postgres" in config["storage"] and config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    processed = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert processed.success, processed.errors
    env = {v.split("=")[0] for v in processed.value["env_vars"]}
    assert {"SRL_PROFILE", "SRL_SAGEMAKER_ROLE_ARN", "SRL_SAGEMAKER_IMAGE_URI"} <= env
    assert "DAGSTER_PG_PASSWORD" not in env   # a secret: from the tagged secrets, never plain env
    assert config["run_monitoring"]["enabled"] and config["concurrency"]["pools"]["default_limit"] == 1
