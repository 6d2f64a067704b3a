"""Small, realistic inputs for calling the asset checks directly (no jobs, no Dagster instance).

Everything is built once per test session from the shipped game data (configs/game, species
"vampire", no live events) and handed out as deep copies, so a test may break its own copy to
flip exactly one check rule without affecting any other test.
"""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path
from typing import Any

from srl_pipeline.core.profiles import PROJECT_ROOT
from srl_pipeline.game.lore_index import LoreIndex
from srl_pipeline.game.rules import RuleSet, ruleset_to_artifact
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios
from srl_pipeline.game.sources import FileLoreSource, GameFiles

SPECIES = "vampire"
GAME_DIR = PROJECT_ROOT / "configs" / "game"
# Small enough to be fast, big enough that every split of the vampire data is non-empty.
SPEC = ScenarioSpec(count=30, seed=0)


@functools.lru_cache(maxsize=None)
def _files() -> GameFiles:
    return GameFiles(Path(GAME_DIR))


@functools.lru_cache(maxsize=None)
def _ruleset() -> RuleSet:
    return RuleSet.resolve(_files().load_rules(SPECIES), [])


@functools.lru_cache(maxsize=None)
def _lore():
    return FileLoreSource(_files()).load(SPECIES)


@functools.lru_cache(maxsize=None)
def _monster_lore() -> dict[str, Any]:
    lore = _lore()
    return {"species": SPECIES, "lore_hash": lore.content_hash, "source": lore.source, "passages": lore.to_records()}


@functools.lru_cache(maxsize=None)
def _lore_index() -> dict[str, Any]:
    return LoreIndex.build(_lore()).to_dict()


@functools.lru_cache(maxsize=None)
def _game_rules() -> dict[str, Any]:
    return ruleset_to_artifact(_ruleset())


@functools.lru_cache(maxsize=None)
def _scenarios() -> dict[str, Any]:
    rs = _ruleset()
    made = generate_scenarios(rs, SPEC, _files().load_world().player_profiles)
    return {"species": rs.species, "rules_version": rs.version, "spec": dict(SPEC.__dict__),
            "scenarios": [s.to_record() for s in made]}


@functools.lru_cache(maxsize=None)
def _collaboration_resource():
    """The offline collaboration with the local profile's gates (accept_score 0.7), caching
    under a private temporary folder."""
    from srl_pipeline.defs.collaboration.resources import CollaborationResource

    return CollaborationResource(cache_dir=tempfile.mkdtemp(prefix="srl_check_inputs_cache_"),
                                 accept_score=0.7, max_attempts=3, lore_passages=3, seed=0)


@functools.lru_cache(maxsize=None)
def _expert_trajectories() -> dict[str, Any]:
    """The offline (search planner + rule-based verifier) collaboration run on the scenarios."""
    from srl_pipeline.collaboration.jobs import SpeciesContext, TrajectoryJob
    from srl_pipeline.game.scenarios import Scenario

    rs = _ruleset()
    ctx = SpeciesContext(rs, _lore(), LoreIndex.build(_lore()))
    jobs = [TrajectoryJob(Scenario.from_record(r, rs), ctx) for r in _scenarios()["scenarios"]]
    collab = _collaboration_resource().build(SPECIES, SPEC.max_plan_steps)
    try:
        results = collab.orchestrator.run(jobs)
    finally:
        collab.close()
    return {"species": SPECIES, "rules_version": rs.version, "trajectories": [r.to_record() for r in results]}


@functools.lru_cache(maxsize=None)
def _srl_dataset() -> dict[str, Any]:
    from srl_pipeline.game.scenarios import Scenario
    from srl_pipeline.training.srl_dataset import SRLDatasetSpec, build_srl_examples

    rs = _ruleset()
    by_id = {r["id"]: Scenario.from_record(r, rs) for r in _scenarios()["scenarios"]}
    lore_by_id = {p["id"]: p for p in _monster_lore()["passages"]}
    examples = build_srl_examples(_expert_trajectories()["trajectories"], by_id, rs, lore_by_id, SRLDatasetSpec())
    return {"species": SPECIES, "rules_version": rs.version, "examples": examples}


# -- public: fresh deep copies ----------------------------------------------------------------
def ruleset() -> RuleSet:
    """The resolved rules (shared, do not mutate)."""
    return _ruleset()


def monster_lore() -> dict[str, Any]:
    return copy.deepcopy(_monster_lore())


def lore_index() -> dict[str, Any]:
    return copy.deepcopy(_lore_index())


def game_rules() -> dict[str, Any]:
    return copy.deepcopy(_game_rules())


def scenarios() -> dict[str, Any]:
    return copy.deepcopy(_scenarios())


def collaboration_resource():
    return _collaboration_resource()


def expert_trajectories() -> dict[str, Any]:
    return copy.deepcopy(_expert_trajectories())


def srl_dataset() -> dict[str, Any]:
    return copy.deepcopy(_srl_dataset())


def result_text(result) -> str:
    """The check's one-sentence result (a text metadata value)."""
    return result.metadata["result"].text
