"""Content-addressed cache of trajectory results: unchanged inputs are never generated twice.

The key covers what the roles see before any call: the scenario (goal and state), the species'
lore, the role settings and the prompt version. An entry also records a fingerprint of exactly
the rules its plan touches (its goal, the actions it uses, the constraints on those actions,
invariants, line rules, the world's state and reactions): when the rules change, an entry stays
valid only if that fingerprint is unchanged, so a changed rule regenerates only what it touches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..core.atomic import atomic_write_json
from ..core.hashing import content_hash
from ..game.rules import RuleSet
from ..game.scenarios import Scenario
from .prompts import PROMPT_VERSION


def trajectory_key(scenario: Scenario, lore_hash: str, settings_identity: dict[str, Any]) -> str:
    state = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in scenario.state.items()}
    return content_hash({"species": scenario.species, "goal": scenario.goal, "state": state, "lore": lore_hash,
                         "settings": settings_identity, "prompt_version": PROMPT_VERSION})


def touched_rules_fingerprint(ruleset: RuleSet, goal: str, actions: Iterable[str] | None) -> str:
    """Hash of the in-force rules a plan using `actions` (None: all actions) for `goal` depends on."""
    raw = ruleset.in_force_raw
    used = set(ruleset.actions) if actions is None else set(actions)
    constraints = []
    for c in raw.get("constraints", []):
        targets = set(c.get("forbid", []) or []) | set(c.get("for", []) or [])
        if "invariant" in c or "line" in c or targets & used:
            constraints.append(c)
    return content_hash({
        "world": {k: ruleset.rules.world.raw.get(k) for k in ("state", "reactions")},
        "species_state": raw.get("state"),
        "goal": raw.get("goals", {}).get(goal),
        "actions": sorted((a for a in raw.get("actions", []) if a.get("name") in used), key=lambda a: a["name"]),
        "constraints": constraints,
        "events": sorted(ruleset.events),
    })[:16]


class TrajectoryCache:
    """One JSON file per key under `root` (atomic writes; safe across threads and processes)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is a miss, regenerated and overwritten

    def put(self, key: str, record: dict[str, Any]) -> None:
        atomic_write_json(self._path(key), record)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.rglob("*.json")) if self.root.is_dir() else 0
