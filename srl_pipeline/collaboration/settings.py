"""Per-role settings: `offline` (the default, no network) or `openai` (any OpenAI-compatible
endpoint: OpenRouter, vLLM, OpenAI). The API key is read from the environment variable named
here, never stored in settings, logs or metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ROLES = ("retriever", "planner", "verifier")


@dataclass(frozen=True)
class RoleSettings:
    backend: Literal["offline", "openai"] = "offline"
    base_url: str = "https://openrouter.ai/api/v1"
    model: str = ""
    api_key_env: str = "SRL_LLM_API_KEY"
    temperature: float = 0.7
    max_tokens: int = 1024
    timeout_s: float = 60.0
    max_concurrency: int = 8
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    usd_per_1k_prompt_tokens: float = 0.0
    usd_per_1k_completion_tokens: float = 0.0

    def cache_identity(self) -> dict[str, Any]:
        """What changes a role's output (and so the cache key); never the key or timeouts."""
        return {"backend": self.backend, "base_url": self.base_url if self.backend != "offline" else "",
                "model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "RoleSettings":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown role setting(s) {sorted(unknown)}")
        if d.get("backend", "offline") not in ("offline", "openai"):
            raise ValueError(f"backend must be offline or openai, got {d.get('backend')!r}")
        return cls(**d)


@dataclass(frozen=True)
class CollaborationSettings:
    retriever: RoleSettings = field(default_factory=RoleSettings)
    planner: RoleSettings = field(default_factory=RoleSettings)
    verifier: RoleSettings = field(default_factory=RoleSettings)
    accept_score: float = 0.7
    max_attempts: int = 3
    lore_passages: int = 6
    max_concurrency: int = 16
    seed: int = 0

    def role(self, name: str) -> RoleSettings:
        return getattr(self, name)

    def cache_identity(self) -> dict[str, Any]:
        return {r: self.role(r).cache_identity() for r in ROLES} | {
            "accept_score": self.accept_score, "max_attempts": self.max_attempts,
            "lore_passages": self.lore_passages, "seed": self.seed}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
