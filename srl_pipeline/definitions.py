"""The Dagster Definitions: every domain's definitions (defs/<domain>/definitions.py) merged, with
the resources of the profile named by $SRL_PROFILE (configs/profiles/, default `local`); secrets
(the PostgreSQL DSN, the LLM key) come from the environment through EnvVar.
"""

from __future__ import annotations

import dagster as dg

from .core.layout import ArtifactLayout
from .core.profiles import Profile, load_profile
from .defs.automation import definitions as automation
from .defs.collaboration import definitions as collaboration
from .defs.evaluation import definitions as evaluation
from .defs.experiments import definitions as experiments
from .defs.game import definitions as game
from .defs.io_managers import JsonArtifactIOManager
from .defs.training import definitions as training

DOMAINS = (game, collaboration, training, evaluation, experiments, automation)


def build_resources(profile: Profile) -> dict:
    resources: dict = {"artifacts": JsonArtifactIOManager(base_dir=str(ArtifactLayout(profile.artifacts_root()).root))}
    for domain in DOMAINS:
        resources.update(domain.resources(profile))
    return resources


def build_definitions(profile: Profile | None = None, resources: dict | None = None) -> dg.Definitions:
    """The project's Definitions; `resources` (tests, tools) replaces the profile's resources."""
    if resources is None:
        resources = build_resources(profile or load_profile())
    return dg.Definitions.merge(*(d.defs for d in DOMAINS), dg.Definitions(resources=resources))


defs = build_definitions()
