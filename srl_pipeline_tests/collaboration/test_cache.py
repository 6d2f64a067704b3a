"""The content cache: unchanged inputs make no calls; a changed rule regenerates only what it touches."""

import json
import shutil
from pathlib import Path

import yaml

from srl_pipeline.collaboration.cache import TrajectoryCache
from srl_pipeline.collaboration.offline_roles import LexicalRetriever, RuleBasedVerifier
from srl_pipeline.collaboration.orchestrator import Orchestrator
from srl_pipeline.collaboration.settings import CollaborationSettings, RoleSettings
from srl_pipeline.game.steps import parse_plan

from .helpers import GAME, CountingPlanner, jobs_for, species_context


def _run(ctx_jobs, cache, settings=None):
    planner = CountingPlanner()
    orch = Orchestrator(settings or CollaborationSettings(), LexicalRetriever(), planner, RuleBasedVerifier(), cache)
    return orch.run(ctx_jobs), planner, orch


def test_unchanged_inputs_make_zero_calls(tmp_path: Path):
    ctx = species_context("ghoul")
    jobs = jobs_for(ctx, 16)
    cache = TrajectoryCache(tmp_path / "cache")
    first, p1, _ = _run(jobs, cache)
    assert len(p1.calls) == len(jobs) and len(cache) == len(jobs)
    again, p2, orch = _run(jobs, cache)
    assert p2.calls == [] and orch.stats["cache_hits"] == len(jobs)
    assert [(r.scenario_id, r.plan, r.score) for r in again] == [(r.scenario_id, r.plan, r.score) for r in first]
    assert all(r.cache_hit for r in again)
    # other role settings are other content: a new model means new trajectories
    other = CollaborationSettings(planner=RoleSettings(temperature=0.2))
    _, p3, _ = _run(jobs, cache, other)
    assert len(p3.calls) == len(jobs)


def test_changed_rule_regenerates_only_the_trajectories_it_touches(tmp_path: Path):
    root = tmp_path / "game"
    shutil.copytree(GAME, root)
    ctx = species_context("ghoul", root)
    jobs = jobs_for(ctx, 30)
    cache = TrajectoryCache(tmp_path / "cache")
    first, _, _ = _run(jobs, cache)
    used = {r.scenario_id: {s.action for s in parse_plan(r.plan)} for r in first if r.accepted}
    counts = {}
    for actions in used.values():
        for a in actions:
            counts[a] = counts.get(a, 0) + 1
    target = next(a for a, n in sorted(counts.items(), key=lambda kv: kv[1]) if 0 < n < len(used))
    rules_path = root / "species" / "ghoul" / "rules.yaml"
    rules = yaml.safe_load(rules_path.read_text())
    next(a for a in rules["actions"] if a["name"] == target)["description"] += " (reworded by a designer)"
    rules_path.write_text(yaml.safe_dump(rules, sort_keys=False))

    ctx2 = species_context("ghoul", root)
    assert ctx2.ruleset.version != ctx.ruleset.version
    jobs2 = [type(j)(j.scenario, ctx2) for j in jobs]
    again, planner, orch = _run(jobs2, cache)
    regenerated = {sid for sid, *_ in planner.calls}
    touched = {sid for sid, actions in used.items() if target in actions}
    rejected_before = {r.scenario_id for r in first if not r.accepted}
    assert regenerated == touched | rejected_before
    assert 0 < len(regenerated) < len(jobs)
    assert all(r.rules_version == ctx2.ruleset.version for r in again)


def test_damaged_cache_entry_is_a_miss(tmp_path: Path):
    ctx = species_context("lich")
    jobs = jobs_for(ctx, 3)
    cache = TrajectoryCache(tmp_path / "cache")
    _run(jobs, cache)
    victim = next((tmp_path / "cache").rglob("*.json"))
    victim.write_text("{not json")
    _, planner, _ = _run(jobs, cache)
    assert len(planner.calls) == 1
    json.loads(victim.read_text())  # rewritten whole
