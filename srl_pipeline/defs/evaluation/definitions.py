"""The evaluation domain: the production models on the held-out test split."""

import dagster as dg

from ...core.profiles import Profile
from .assets import EVALUATION_ASSETS
from .checks import EVALUATION_CHECKS
from .resources import EvaluationSettings

defs = dg.Definitions(assets=EVALUATION_ASSETS, asset_checks=EVALUATION_CHECKS)


def resources(profile: Profile) -> dict:
    section = profile.section("evaluation")
    section["encounters_dir"] = profile.path(section.get("encounters_dir", "configs/eval"))
    return {"evaluation": EvaluationSettings(**section)}
