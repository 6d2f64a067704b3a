"""Training resources: base models per tier, budgets and the quality gates of trained adapters."""

from pathlib import Path
from typing import Any, Literal, Optional

import dagster as dg
from pydantic import Field

from ...core.artifact_mirror import ArtifactMirror
from ...core.catalogue import tier_names
from ...core.layout import BUILTIN, ArtifactLayout
from ...core.profiles import load_stage_hyperparameters


class TrainingSettings(dg.ConfigurableResource):
    """Base models per tier and training hyperparameters (profile: training; configs/training/*.yaml)."""

    artifacts_dir: str
    store_uri: str = Field(default="", description="the artifact store artifacts_dir mirrors (s3://...; empty: none)")
    store_endpoint_url: str = ""
    base_models: dict[str, str] = Field(default_factory=lambda: {t: BUILTIN for t in tier_names()})
    warmup_steps: int = 400
    base_model_processes: int = Field(
        default=1, ge=1, description="built-in tiers warmed up side by side in this many processes (one thread each)")
    builtin_tiers: Optional[dict[str, dict[str, int]]] = Field(
        default=None, description="Override the built-in tiers' sizes (hidden_size, num_layers, ...); tests use tiny ones")
    seed: int = 0
    hyperparameter_profile: str = "local"
    srl_max_steps: int = 20
    rlvr_max_steps: int = 10
    sft_max_steps: int = 20
    checkpoint_every_steps: int = 5
    checkpoint_every_minutes: float = 30.0
    keep_checkpoints: int = 2
    min_reward_gain: float = 0.02
    reward_check_severity: Literal["error", "warn"] = Field(
        default="error", description="error blocks downstream on a failed reward gate; warn reports it only")
    kl_bound: float = 0.1
    rlvr_success_tolerance: float = 0.0  # RLVR's validation plan success may not drop below SRL's by more

    def layout(self) -> ArtifactLayout:
        return ArtifactLayout(Path(self.artifacts_dir))

    def mirror(self) -> ArtifactMirror:
        return ArtifactMirror.configured(self.artifacts_dir, self.store_uri, self.store_endpoint_url)

    def base_model(self, tier: str) -> str:
        """What the training job loads for ``tier``: the built-in folder or the profile's hub id / path."""
        return self.layout().base_model(tier, self.base_models.get(tier, BUILTIN))

    def hyperparameters(self, stage: str) -> dict[str, Any]:
        """What the job spec carries: the profile's name and its resolved values (one loader)."""
        return load_stage_hyperparameters(stage, self.hyperparameter_profile)
