"""Fixtures shared across test packages (training, evaluation, the eval command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline_tests.tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """One random tiny Qwen2 + tokenizer for the whole session (read-only: never train it in place)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")


@pytest.fixture(scope="module")
def aws():
    """moto's server on loopback (S3, SageMaker, CloudWatch Logs) with the SageMaker container
    emulator hooked in and a bucket for the training backend; see sagemaker_emulator.py."""
    import boto3

    from srl_pipeline_tests.sagemaker_emulator import REGION, SageMakerEmulator, moto_server

    with moto_server() as endpoint:
        emulator = SageMakerEmulator(endpoint).install()
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket="srl-test")
        try:
            yield emulator
        finally:
            emulator.hold.set()
            emulator.uninstall()
