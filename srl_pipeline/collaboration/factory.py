"""Builds the three roles from their settings: offline defaults or OpenAI-compatible clients."""

from __future__ import annotations

from dataclasses import dataclass

from .llm import ChatClient, UsageMeter
from .llm_roles import LLMPlanner, LLMRetriever, LLMVerifier
from .offline_roles import LexicalRetriever, RuleBasedVerifier, SearchPlanner
from .orchestrator import Orchestrator
from .cache import TrajectoryCache
from .settings import CollaborationSettings


@dataclass
class Collaboration:
    orchestrator: Orchestrator
    meter: UsageMeter
    clients: list[ChatClient]

    def close(self) -> None:
        for c in self.clients:
            c.close()


def build_collaboration(settings: CollaborationSettings, cache: TrajectoryCache | None,
                        api_keys: dict[str, str | None] | None = None, max_plan_steps: int = 6) -> Collaboration:
    """`api_keys` maps role -> key (from the environment); None lets a client read its env var."""
    meter = UsageMeter()
    clients: list[ChatClient] = []

    def client(role: str) -> ChatClient:
        c = ChatClient(settings.role(role), role, meter, api_key=(api_keys or {}).get(role))
        clients.append(c)
        return c

    retriever = (LLMRetriever(client("retriever"), settings.lore_passages) if settings.retriever.backend == "openai"
                 else LexicalRetriever(settings.lore_passages))
    planner = (LLMPlanner(client("planner")) if settings.planner.backend == "openai"
               else SearchPlanner(settings.seed, max_plan_steps))
    verifier = LLMVerifier(client("verifier")) if settings.verifier.backend == "openai" else RuleBasedVerifier()
    return Collaboration(Orchestrator(settings, retriever, planner, verifier, cache), meter, clients)
