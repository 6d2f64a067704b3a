"""The blocking conditions of the game-data checks, as plain functions over the data.

Each asset runs the conditions of its own blocking checks *before* it returns (validate before
publishing): data that would fail a check raises :class:`~.errors.GameDataError` lines naming file,
record and field, the step fails, and the previous good artifact is never overwritten. The Dagster
checks call the same functions, so the asset and its check can never disagree. (The GX suites and
the solver replay stay check-only: the schema already enforces the GX bounds at parse time, and
scenarios are solvable by construction.)
"""

from __future__ import annotations

import collections
from typing import Any, Iterable, Mapping

from .errors import GameDataError, Problem
from .lore import REQUIRED_KINDS
from .rules import MIN_ACTIONS, MIN_GOALS


def lore_completeness(passages: list[Mapping[str, Any]], min_passages: int, source: str) -> list[Problem]:
    """Enough passages, and every required kind present."""
    kinds = collections.Counter(p["kind"] for p in passages)
    out = []
    if len(passages) < min_passages:
        out.append(Problem(source, "<file>", "passages", f"{len(passages)} passages; at least {min_passages} are needed"))
    missing = [k for k in REQUIRED_KINDS if not kinds.get(k)]
    if missing:
        out.append(Problem(source, "<file>", "passages", f"missing passage kind(s) {missing}"))
    return out


def lore_against_rules(passages: list[Mapping[str, Any]], catalogue: Iterable[str], in_force: Iterable[str],
                       source: str) -> list[Problem]:
    """Lore names only actions of the catalogue, and every action in force has an example line."""
    catalogue, in_force = set(catalogue), set(in_force)
    out = []
    for i, p in enumerate(passages):
        unknown = [a for a in p["actions"] if a not in catalogue]
        if unknown:
            out.append(Problem(source, f"passages[{i}] ({p['id']})", "actions",
                               f"unknown action(s) {unknown}; the rules have {sorted(catalogue)}"))
    with_lines = {a for p in passages if p["kind"] == "example_line" for a in p["actions"]}
    no_lines = sorted(in_force - with_lines)
    if no_lines:
        out.append(Problem(source, "<file>", "passages", f"no example_line passage for action(s) {no_lines}"))
    return out


def rules_big_enough(actions_in_force: int, goals: int, source: str) -> list[Problem]:
    out = []
    if actions_in_force < MIN_ACTIONS:
        out.append(Problem(source, "<rules in force>", "actions",
                           f"{actions_in_force} actions in force under the live events; at least {MIN_ACTIONS} are needed"))
    if goals < MIN_GOALS:
        out.append(Problem(source, "<file>", "goals", f"{goals} goals; at least {MIN_GOALS} are needed"))
    return out


def split_sizes(splits: Iterable[str], minimum: Mapping[str, int], source: str) -> list[Problem]:
    sizes = collections.Counter(splits)
    return [Problem(source, f"split {k}", "scenarios", f"{sizes.get(k, 0)} scenarios; at least {v} are needed")
            for k, v in minimum.items() if sizes.get(k, 0) < v]


def raise_if_any(problems: list[Problem]) -> None:
    if problems:
        raise GameDataError(problems)
