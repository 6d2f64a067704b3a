"""The collaboration domain: expert trajectories from the three-model team and the SRL dataset."""

import dagster as dg

from ...collaboration.settings import ROLES
from ...core.profiles import Profile
from .assets import COLLABORATION_ASSETS
from .checks import COLLABORATION_CHECKS
from .resources import CollaborationResource, DatasetSettings, RoleConfig

defs = dg.Definitions(assets=COLLABORATION_ASSETS, asset_checks=COLLABORATION_CHECKS)


def resources(profile: Profile) -> dict:
    cfg = profile.section("collaboration")
    roles = {r: RoleConfig(**(cfg.pop(r, None) or {})) for r in ROLES}
    uses_endpoint = any(r.backend == "openai" for r in roles.values())
    cache_dir = profile.path(cfg.pop("cache_dir", "artifacts/cache/trajectories"))
    return {
        "collaboration": CollaborationResource(
            **roles, **cfg, cache_dir=cache_dir,
            api_key=dg.EnvVar("SRL_LLM_API_KEY") if uses_endpoint else None),
        "dataset_settings": DatasetSettings(**profile.section("trajectories")),
    }
