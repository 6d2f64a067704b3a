"""The registry domain: registered models per species and tier, behind the no-regression gate."""

import dagster as dg

from ...core.profiles import Profile
from .assets import REGISTRY_ASSETS
from .checks import REGISTRY_CHECKS
from .resources import RegistrySettings

defs = dg.Definitions(assets=REGISTRY_ASSETS, asset_checks=REGISTRY_CHECKS)


def resources(profile: Profile) -> dict:
    section = profile.section("registry")
    local_dir = section.pop("local_dir", "")
    return {"registry": RegistrySettings(
        local_dir=profile.path(local_dir) if local_dir else str(profile.artifacts_root() / "registry"),
        postgres_dsn=dg.EnvVar("SRL_POSTGRES_DSN") if section.get("backend") == "postgres" else None, **section)}
