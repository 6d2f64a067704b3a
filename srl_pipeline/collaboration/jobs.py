"""What one trajectory is made from, and what each role returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..game.lore import SpeciesLore
from ..game.lore_index import LoreIndex
from ..game.rules import RuleSet
from ..game.scenarios import Scenario
from ..game.simulator import Simulator
from .guardrails import looks_like_injection


@dataclass(frozen=True)
class SpeciesContext:
    """Everything shared by the trajectories of one species (built once per asset run)."""

    ruleset: RuleSet
    lore: SpeciesLore
    index: LoreIndex

    @cached_property
    def simulator(self) -> Simulator:
        return Simulator(self.ruleset)

    @cached_property
    def quarantined(self) -> frozenset[str]:
        """Ids of lore passages that address the pipeline instead of describing the world
        (prompt injection): never retrieved, never a source of lines."""
        return frozenset(p.id for p in self.lore.passages if looks_like_injection(p.text) or looks_like_injection(p.title))

    @cached_property
    def example_lines(self) -> dict[str, list[tuple[str, str]]]:
        """action -> [(title, line)] from the lore's example_line passages (quarantined ones excluded)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for p in self.lore.passages:
            if p.kind == "example_line" and p.id not in self.quarantined:
                for a in p.actions:
                    out.setdefault(a, []).append((p.title, p.text))
        return out


@dataclass(frozen=True)
class TrajectoryJob:
    scenario: Scenario
    species: SpeciesContext


@dataclass
class Retrieval:
    passages: list[dict[str, Any]]
    quarantined: list[str] = field(default_factory=list)  # passage ids dropped as prompt injection

    @property
    def ids(self) -> list[str]:
        return [p["id"] for p in self.passages]


@dataclass
class Verdict:
    score: float
    reasons: list[str]
    components: dict[str, float]
    simulator_success: bool

    def accepted(self, threshold: float) -> bool:
        return self.simulator_success and self.score >= threshold
