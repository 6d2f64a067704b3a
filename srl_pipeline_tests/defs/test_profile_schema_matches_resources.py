"""The profile schema (core/profile_schema.py) and the resources it configures cannot drift apart:
every key a resource takes from the profile is in the schema, and nothing else is."""

from __future__ import annotations

import pytest

from srl_pipeline.core.profile_schema import (
    ArtifactsSection, CollaborationSection, DistillationSection, EvaluationSection, GameSection, QualitySection, RegistrySection,
    RoleSection, SageMakerSection, SageMakerTierSection, ScenariosSection, TrainingBackendSection, TrainingSection,
    TrajectoriesSection,
)
from srl_pipeline.defs.distillation.resources import DistillationSettings
from srl_pipeline.defs.registry.resources import RegistrySettings
from srl_pipeline.defs.collaboration.resources import CollaborationResource, DatasetSettings, RoleConfig
from srl_pipeline.defs.evaluation.resources import EvaluationSettings
from srl_pipeline.defs.io_managers import JsonArtifactIOManager
from srl_pipeline.defs.game.resources import GameDataResource, QualitySettings, ScenarioSettings
from srl_pipeline.defs.training.backends.local import LocalTrainingBackend
from srl_pipeline.defs.training.backends.sagemaker import SageMakerTier, SageMakerTrainingBackend
from srl_pipeline.defs.training.resources import TrainingSettings

# keys the Dagster layer fills itself (secrets from the environment, paths it derives)
FROM_ENVIRONMENT = {"postgres_dsn", "api_key", "artifacts_dir", "role_arn", "image_uri"}
# the artifacts section's store, which TrainingSettings carries beside the IO manager
ARTIFACT_STORE = {"store_uri", "store_endpoint_url"}


@pytest.mark.parametrize("section, resource, extra", [
    (GameSection, GameDataResource, set()),
    (ScenariosSection, ScenarioSettings, set()),
    (QualitySection, QualitySettings, set()),
    (CollaborationSection, CollaborationResource, set()),
    (RoleSection, RoleConfig, set()),
    (TrajectoriesSection, DatasetSettings, set()),
    (TrainingSection, TrainingSettings, set()),
    (ArtifactsSection, JsonArtifactIOManager, set()),
    (EvaluationSection, EvaluationSettings, set()),
    (TrainingBackendSection, LocalTrainingBackend, {"kind", "sagemaker"}),
    # training_backend.sagemaker; max_concurrent_jobs is the section's shared key
    (SageMakerSection, SageMakerTrainingBackend, set()),
    (SageMakerTierSection, SageMakerTier, {"image_uri"}),
    (DistillationSection, DistillationSettings, set()),
    (RegistrySection, RegistrySettings, set()),
], ids=lambda x: getattr(x, "__name__", ""))
def test_schema_section_keys_are_the_resource_fields(section, resource, extra):
    shared = {"max_concurrent_jobs"} if resource is SageMakerTrainingBackend else set()
    shared |= ARTIFACT_STORE if resource is TrainingSettings else set()
    assert set(section.model_fields) == set(resource.model_fields) - FROM_ENVIRONMENT - shared | extra
