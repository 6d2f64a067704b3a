"""The distillation domain: Bronze's verified traces and the Silver and Gold students."""

import dagster as dg

from ...core.profiles import Profile
from .assets import DISTILLATION_ASSETS
from .checks import DISTILLATION_CHECKS
from .resources import DistillationSettings

defs = dg.Definitions(assets=DISTILLATION_ASSETS, asset_checks=DISTILLATION_CHECKS)


def resources(profile: Profile) -> dict:
    return {"distillation": DistillationSettings(**profile.section("distillation"))}
