"""The Dagster Definitions: the asset graph, its checks, resources, jobs, sensors and schedules.

Resources are configured from the profile named by $SRL_PROFILE (configs/profiles/, default
`local`); secrets (the PostgreSQL DSN) come from the environment through EnvVar.
"""

from __future__ import annotations

import dagster as dg

from .defs.automation import lore_change_sensor, nightly_schedule, rules_change_sensor
from .defs.collaboration_assets import COLLABORATION_ASSETS
from .defs.collaboration_checks import COLLABORATION_CHECKS
from .defs.game_assets import GAME_ASSETS
from .defs.game_checks import GAME_CHECKS
from .defs.training_assets import TRAINING_ASSETS
from .defs.training_backend import TrainingBackend
from .defs.training_checks import TRAINING_CHECKS
from .defs.evaluation_assets import EVALUATION_ASSETS, EVALUATION_CHECKS, EXPERIMENT_ASSETS, EXPERIMENT_CHECKS
from .defs.jobs import base_models_job, data_job, experiments_job, main_job, report_job, rules_refresh_job
from .defs.resources import (
    CollaborationResource, DatasetSettings, EvaluationSettings, GameDataResource, JsonArtifactIOManager, QualitySettings, RoleConfig,
    ScenarioSettings, TrainingSettings,
)
from .settings import Profile, load_profile


def build_resources(profile: Profile) -> dict:
    game = profile.section("game")
    uses_postgres = "postgres" in (game.get("lore_backend"), game.get("game_state_backend"))
    artifacts_dir = profile.path(profile.section("artifacts").get("base_dir", "artifacts"))
    return {
        "game_data": GameDataResource(
            root=profile.path(game.get("root", "configs/game")),
            lore_backend=game.get("lore_backend", "files"),
            game_state_backend=game.get("game_state_backend", "files"),
            postgres_dsn=dg.EnvVar("SRL_POSTGRES_DSN") if uses_postgres else None,
        ),
        "scenario_settings": ScenarioSettings(**profile.section("scenarios")),
        "quality": QualitySettings(**profile.section("quality")),
        "collaboration": build_collaboration_resource(profile),
        "dataset_settings": DatasetSettings(**profile.section("trajectories")),
        "training": TrainingSettings(artifacts_dir=artifacts_dir, **profile.section("training")),
        "training_backend": TrainingBackend(**profile.section("training_backend")),
        "evaluation": EvaluationSettings(**profile.section("evaluation")),
        "artifacts": JsonArtifactIOManager(base_dir=artifacts_dir),
    }


def build_collaboration_resource(profile: Profile) -> CollaborationResource:
    cfg = profile.section("collaboration")
    roles = {r: RoleConfig(**(cfg.pop(r, None) or {})) for r in ("retriever", "planner", "verifier")}
    uses_endpoint = any(r.backend == "openai" for r in roles.values())
    cache_dir = profile.path(cfg.pop("cache_dir", "artifacts/cache/trajectories"))
    return CollaborationResource(
        **roles, **cfg, cache_dir=cache_dir,
        api_key=dg.EnvVar("SRL_LLM_API_KEY") if uses_endpoint else None)


def build_definitions(profile: Profile | None = None, resources: dict | None = None) -> dg.Definitions:
    """The project's Definitions; `resources` (tests, tools) replaces the profile's resources."""
    profile = profile or load_profile()
    return dg.Definitions(
        assets=GAME_ASSETS + COLLABORATION_ASSETS + TRAINING_ASSETS + EVALUATION_ASSETS + EXPERIMENT_ASSETS,
        asset_checks=GAME_CHECKS + COLLABORATION_CHECKS + TRAINING_CHECKS + EVALUATION_CHECKS + EXPERIMENT_CHECKS,
        jobs=[main_job, data_job, rules_refresh_job, base_models_job, experiments_job, report_job],
        sensors=[lore_change_sensor, rules_change_sensor],
        schedules=[nightly_schedule],
        resources=resources if resources is not None else build_resources(profile),
    )


defs = build_definitions()
