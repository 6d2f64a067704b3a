"""The SageMaker job as plain data: names from the spec's identity, which attempt to attach to or
create, the CreateTrainingJob request, the budget refusal and the cost of a finished job."""

from __future__ import annotations

import re

import pytest

from srl_pipeline.training import sagemaker_job as sm
from srl_pipeline.training.job_spec import TrainingJobSpec


def spec(tmp_path, **changes) -> TrainingJobSpec:
    dataset = tmp_path / "srl_dataset.json"
    dataset.write_text('{"examples": []}')
    fields = dict(stage="srl", species="zombie", tier="bronze", base_model="Qwen/Qwen2.5-7B-Instruct",
                  dataset=str(dataset), output_dir=str(tmp_path / "out"), checkpoint_dir=str(tmp_path / "ck"),
                  hyperparameters={"learning_rate": 1e-5}, max_steps=4, seed=0)
    return TrainingJobSpec(**{**fields, **changes})


def test_the_job_name_is_the_specs_identity(tmp_path):
    a = sm.base_job_name(spec(tmp_path))
    assert a == sm.base_job_name(spec(tmp_path, output_dir="/elsewhere"))   # where it is written does not count
    assert a != sm.base_job_name(spec(tmp_path, seed=1)) != sm.base_job_name(spec(tmp_path, max_steps=5))
    long = sm.attempt_name(sm.base_job_name(spec(tmp_path, species="a_very_long_species_name_" * 4)), 99)
    assert len(long) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", long)


@pytest.mark.parametrize("existing, name, create", [
    ({}, "b-a1", True),
    ({"b-a1": "InProgress"}, "b-a1", False),           # a retry attaches: no duplicate launch
    ({"b-a1": "Completed"}, "b-a1", False),            # already trained: its model is reused
    ({"b-a1": "Failed"}, "b-a2", True),                # re-created: resumes from the shared checkpoints
    ({"b-a1": "Failed", "b-a2": "Stopping"}, "b-a2", False),
    ({"b-a1": "Stopped", "b-a10": "Failed", "b-a9": "Completed"}, "b-a11", True),
    ({"b-x-a1": "InProgress"}, "b-a1", True),          # another spec's job that merely contains the name
])
def test_which_attempt_to_attach_to_or_create(existing, name, create):
    decision = sm.decide_launch("b", existing)
    assert (decision.name, decision.create) == (name, create)


def test_a_job_over_its_budget_is_refused_with_the_numbers_and_the_key():
    tier = sm.TierJobSettings("ml.p5.48xlarge", instance_count=2, max_runtime_s=28800, usd_per_instance_hour=113.07,
                              budget_usd=1000)
    with pytest.raises(sm.BudgetExceeded) as err:
        sm.check_budget(tier, "bronze", "srl_adapter/zombie")
    text = str(err.value)
    assert "srl_adapter/zombie" in text and "$1809.12" in text and "$1000.00" in text
    assert "training_backend.sagemaker.tiers.bronze.budget_usd" in text
    assert sm.check_budget(sm.TierJobSettings("ml.g6.12xlarge", usd_per_instance_hour=6.37), "gold", "x").usd == 50.96


@pytest.mark.parametrize("kwargs, message", [
    ({"max_runtime_s": 8 * 3600 + 1}, "8 h"),
    ({"spot": True, "max_runtime_s": 3600, "max_wait_s": 600}, "max_wait_s >= max_runtime_s"),
    ({"spot": True, "max_runtime_s": 3600}, "max_wait_s >= max_runtime_s"),
])
def test_tier_settings_hold_the_time_limits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sm.TierJobSettings("ml.g6.12xlarge", **kwargs)


def test_cost_of_a_finished_spot_job():
    tier = sm.TierJobSettings("ml.g6.12xlarge", spot=True, max_runtime_s=3600, max_wait_s=7200,
                              usd_per_instance_hour=7.2, budget_usd=1.0)
    cost = sm.actual_cost({"TrainingTimeInSeconds": 1000, "BillableTimeInSeconds": 300,
                           "ResourceConfig": {"InstanceCount": 1}}, tier)
    assert cost["cost_usd"] == pytest.approx(0.6) and cost["spot_savings_pct"] == 70.0 and not cost["over_budget"]
    over = sm.actual_cost({"TrainingTimeInSeconds": 1000, "BillableTimeInSeconds": 1000,
                           "ResourceConfig": {"InstanceCount": 2}}, tier)
    assert over["cost_usd"] == pytest.approx(4.0) and over["over_budget"] and over["spot_savings_pct"] == 0.0


def test_the_create_request_carries_channels_checkpoints_spot_and_environment():
    tier = sm.TierJobSettings("ml.p5.48xlarge", instance_count=2, spot=True, max_runtime_s=3600, max_wait_s=7200)
    request = sm.create_request(
        "job-a1", tier, image_uri="img", role_arn="arn:aws:iam::1:role/r",
        channels={"spec": "s3://b/p/spec", "dataset": "s3://b/p/data"}, output_s3="s3://b/p/output",
        checkpoint_s3="s3://b/p/ck", environment={"A": "1"}, entrypoint=["python", "-m", "m"], tags={"k": "v"})
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["spec", "dataset"]
    assert request["CheckpointConfig"] == {"S3Uri": "s3://b/p/ck", "LocalPath": "/opt/ml/checkpoints"}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["ResourceConfig"]["InstanceCount"] == 2 and request["EnableManagedSpotTraining"]
    with pytest.raises(ValueError, match="512 characters"):
        sm.create_request("j", tier, image_uri="i", role_arn="r", channels={}, output_s3="o", checkpoint_s3="c",
                          environment={"BIG": "x" * 513}, entrypoint=["python"], tags={})
