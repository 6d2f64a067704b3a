"""The experiments domain: the paper's baselines and the report (never scheduled)."""

import dagster as dg

from ...core.profiles import Profile
from .assets import EXPERIMENT_ASSETS
from .checks import EXPERIMENT_CHECKS

defs = dg.Definitions(assets=EXPERIMENT_ASSETS, asset_checks=EXPERIMENT_CHECKS)


def resources(profile: Profile) -> dict:
    return {}
