"""Collaboration resources: the three roles, the trajectory cache and the dataset gates."""

from pathlib import Path
from typing import Optional

import dagster as dg
from pydantic import Field

from ...collaboration.settings import CollaborationSettings, RoleSettings
from ...game.names import validate_species_name
from ..settings_resource import config_class

RoleConfig = config_class(
    RoleSettings, dg.Config, name="RoleConfig", exclude=("api_key_env",),
    doc="One collaboration role: `offline` (default) or `openai` (any OpenAI-compatible endpoint); "
        "fields of collaboration.settings.RoleSettings. The key comes from the environment, never from here.")

_CollaborationConfig = config_class(
    CollaborationSettings, dg.ConfigurableResource, name="_CollaborationConfig",
    types={"retriever": RoleConfig, "planner": RoleConfig, "verifier": RoleConfig},
    extra={"cache_dir": (str, Field(description="Content-addressed trajectory cache (one folder per species)")),
           "api_key": (Optional[str], None)},
    doc="The three-model collaboration; fields of collaboration.settings.CollaborationSettings.")


class CollaborationResource(_CollaborationConfig):
    """The three-model collaboration (profile: collaboration). The API key comes from
    EnvVar('SRL_LLM_API_KEY') and only when a role uses an endpoint."""

    def build(self, species: str, max_plan_steps: int):
        from ...collaboration.cache import TrajectoryCache
        from ...collaboration.factory import build_collaboration

        cache = TrajectoryCache(Path(self.cache_dir) / validate_species_name(species, "<partition key>"))
        keys = {r: self.api_key for r in ("retriever", "planner", "verifier")} if self.api_key else None
        return build_collaboration(self.to_settings(), cache, keys, max_plan_steps)


class DatasetSettings(dg.ConfigurableResource):
    """SRL dataset options and the trajectory / dataset quality gates (profile: trajectories)."""

    title_hint: bool = False
    min_steps: int = 1
    max_steps: int = 6
    min_acceptance_rate: float = 0.8
    context_tokens: int = 2048
    min_train_examples: int = 50
