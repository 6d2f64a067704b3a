"""The registry resource: which backend, the gate's metric and tolerance, and the instance prices
that turn train seconds into estimated dollars (profile: registry)."""

from typing import Literal, Optional

import dagster as dg
from pydantic import Field


class RegistrySettings(dg.ConfigurableResource):
    """Where registered models live and what a promotion needs (profile: registry)."""

    backend: Literal["local", "postgres", "sagemaker"] = "local"
    local_dir: str = Field(description="The local registry's folder (default <artifacts>/registry)")
    table: str = "srl_model_registry"
    postgres_dsn: Optional[str] = Field(default=None, description="Set through EnvVar('SRL_POSTGRES_DSN'); never inline")
    group_prefix: str = "srl"
    region: str = "us-east-1"
    endpoint_url: str = Field(default="", description="SageMaker API endpoint; empty: AWS's own for the region")
    metric: str = "success_greedy"
    tolerance: float = Field(default=0.0, ge=0.0, le=1.0, description="how far below production a candidate may be")
    max_format_error_rate: float = Field(default=0.5, ge=0.0, le=1.0,
                                         description="refuse a candidate whose greedy turns break the format more often")
    manual_approval: bool = Field(default=False, description="register passing candidates as PendingManualApproval")
    usd_per_hour: dict[str, float] = Field(default_factory=dict, description="instance price per tier, for the cost")

    def build(self):
        from ...registry.factory import build_registry

        return build_registry(self.backend, local_dir=self.local_dir, postgres_dsn=self.postgres_dsn, table=self.table,
                              group_prefix=self.group_prefix, region=self.region, endpoint_url=self.endpoint_url or None)
