"""The registry a deployment configured (profile section ``registry``): one place that builds it."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError
from .backend import ModelRegistry

BACKENDS = ("local", "postgres", "sagemaker")


def build_registry(backend: str, *, local_dir: Path | str, postgres_dsn: str | None = None,
                   table: str = "srl_model_registry", group_prefix: str = "srl", region: str = "us-east-1",
                   endpoint_url: str | None = None) -> ModelRegistry:
    if backend == "local":
        from .local import LocalRegistry

        return LocalRegistry(local_dir)
    if backend == "postgres":
        if not postgres_dsn:
            raise ConfigError.single("<environment>", "SRL_POSTGRES_DSN", "SRL_POSTGRES_DSN",
                                     "registry.backend is postgres but SRL_POSTGRES_DSN is not set")
        from .postgres import PostgresRegistry

        return PostgresRegistry(postgres_dsn, table)
    if backend == "sagemaker":
        from .sagemaker import SageMakerRegistry

        return SageMakerRegistry(group_prefix, region, endpoint_url)
    raise ConfigError.single("<profile>", "registry", "backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
