"""The Dagster Definitions: every domain's definitions (defs/<domain>/definitions.py) merged, with
the resources of the profile named by $SRL_PROFILE (configs/profiles/, default `local`); secrets
(the PostgreSQL DSN, the LLM key) come from the environment through EnvVar.
"""

from __future__ import annotations

import sys

import dagster as dg

from .core.errors import InputError

from .core.layout import ArtifactLayout
from .core.profiles import Profile, load_profile
from .defs.automation import definitions as automation
from .defs.collaboration import definitions as collaboration
from .defs.distillation import definitions as distillation
from .defs.evaluation import definitions as evaluation
from .defs.experiments import definitions as experiments
from .defs.game import definitions as game
from .defs.io_managers import JsonArtifactIOManager
from .defs.registry import definitions as registry
from .defs.training import definitions as training

EXIT_BAD_INPUT = 2
DOMAINS = (game, collaboration, training, distillation, evaluation, registry, experiments, automation)


def build_resources(profile: Profile) -> dict:
    resources: dict = {"artifacts": JsonArtifactIOManager(base_dir=str(ArtifactLayout(profile.artifacts_root()).root),
                                                          **profile.artifact_store())}
    for domain in DOMAINS:
        resources.update(domain.resources(profile))
    return resources


def build_definitions(profile: Profile | None = None, resources: dict | None = None) -> dg.Definitions:
    """The project's Definitions; `resources` (tests, tools) replaces the profile's resources."""
    if resources is None:
        profile = profile or load_profile()
        resources = build_resources(profile)
    # a domain whose definitions depend on the profile (the automation's default schedule status)
    domain_defs = [d.defs_for(profile) if hasattr(d, "defs_for") else d.defs for d in DOMAINS]
    return dg.Definitions.merge(*domain_defs, dg.Definitions(resources=resources))


def _definitions_or_exit() -> dg.Definitions:
    """The module's Definitions; a bad profile (any problem of any file of its ``extends`` chain) is
    printed one line per problem and ends the loading process with exit status 2, no traceback."""
    try:
        return build_definitions()
    except InputError as exc:
        print(f"error: the profile cannot be loaded ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


defs = _definitions_or_exit()
