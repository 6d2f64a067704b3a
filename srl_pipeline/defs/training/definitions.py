"""The training domain: the tiers' base models and Bronze's SRL and SRL->RLVR adapters."""

import dagster as dg

from ...core.profiles import Profile
from .assets import TRAINING_ASSETS
from .backends import build_training_backend
from .checks import TRAINING_CHECKS
from .resources import TrainingSettings

defs = dg.Definitions(assets=TRAINING_ASSETS, asset_checks=TRAINING_CHECKS)


def resources(profile: Profile) -> dict:
    return {
        "training": TrainingSettings(artifacts_dir=str(profile.artifacts_root()), **profile.artifact_store(),
                                     **profile.section("training")),
        "training_backend": build_training_backend(profile.section("training_backend")),
    }
