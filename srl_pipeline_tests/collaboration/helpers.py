"""Builders for collaboration tests: a real species context from the built-in game and scripted roles."""

from pathlib import Path

from srl_pipeline.collaboration.jobs import Retrieval, SpeciesContext, TrajectoryJob
from srl_pipeline.collaboration.offline_roles import SearchPlanner
from srl_pipeline.game.lore_index import LoreIndex
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios
from srl_pipeline.game.sources import FileLoreSource, GameFiles
from srl_pipeline.core.profiles import PROJECT_ROOT

GAME = PROJECT_ROOT / "configs" / "game"


def species_context(species: str = "vampire", root: Path = GAME) -> SpeciesContext:
    files = GameFiles(root)
    lore = FileLoreSource(files).load(species)
    ruleset = RuleSet.resolve(files.load_rules(species), [])
    return SpeciesContext(ruleset, lore, LoreIndex.build(lore))


def jobs_for(ctx: SpeciesContext, count: int = 12, seed: int = 0) -> list[TrajectoryJob]:
    world = ctx.ruleset.rules.world
    scenarios = generate_scenarios(ctx.ruleset, ScenarioSpec(count=count, seed=seed), world.player_profiles)
    return [TrajectoryJob(s, ctx) for s in scenarios]


class CountingPlanner:
    """Wraps a planner and records every call (attempt number and the feedback it got)."""

    def __init__(self, inner=None, script=None):
        self.inner = inner or SearchPlanner()
        self.script = script  # optional f(job, attempt, good_plan) -> plan text or raises
        self.calls: list[tuple[str, int, list[str]]] = []

    def plan(self, job: TrajectoryJob, retrieval: Retrieval, feedback: list[str], attempt: int) -> str:
        self.calls.append((job.scenario.id, attempt, list(feedback)))
        good = self.inner.plan(job, retrieval, feedback, attempt)
        return self.script(job, attempt, good) if self.script else good
