"""Registries for the tests: local (tmp folder), PostgreSQL (the real server, a private table) and
SageMaker (moto's server on a free loopback port, the production boto3 code path)."""

from __future__ import annotations

import os
import uuid

import pytest

from srl_pipeline.registry.records import Candidate

PG_DSN = os.environ.get("SRL_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def candidate(species: str = "vampire", tier: str = "gold", success: float = 0.5, **over) -> Candidate:
    data = dict(species=species, tier=tier, model=tier if tier != "bronze" else "srl_rlvr",
                adapter_uri=f"/registry/adapters/{species}/{tier}/abc", adapter_version=f"v{success}",
                base_model=f"artifacts/base_models/{tier}",
                lineage={"lore": "lore123", "rules": "rules456", "trajectories": "traj789", "teacher": "bronze v1"},
                metrics={"success_greedy": success, "step_similarity": 0.4, "parameters": 400000.0},
                cost={"train_seconds": 40.0, "usd": 0.01}, gate="promoted: first version")
    data.update(over)
    return Candidate(**data)


@pytest.fixture(scope="session")
def moto_endpoint():
    from srl_pipeline_tests.sagemaker_emulator import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def sagemaker_registry(moto_endpoint):
    from srl_pipeline.registry.sagemaker import SageMakerRegistry

    return SageMakerRegistry(group_prefix=f"t{uuid.uuid4().hex[:8]}", region="us-east-1", endpoint_url=moto_endpoint)


@pytest.fixture
def postgres_registry():
    from srl_pipeline.registry.postgres import PostgresRegistry

    reg = PostgresRegistry(PG_DSN, f"srl_test_registry_{uuid.uuid4().hex[:12]}")
    yield reg
    reg.drop()


@pytest.fixture
def local_registry(tmp_path):
    from srl_pipeline.registry.local import LocalRegistry

    return LocalRegistry(tmp_path / "registry")


@pytest.fixture(params=["local", "postgres", "sagemaker"])
def registry(request):
    return request.getfixturevalue(f"{request.param}_registry")
