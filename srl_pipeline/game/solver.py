"""Breadth-first search for a shortest legal plan that reaches a goal.

The scenario generator uses it to keep only solvable scenarios and to record the optimal plan
length; the offline teacher planner builds on it. Bounded by depth and expanded states.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

from .simulator import Call, Simulator


@dataclass
class Solution:
    calls: list[Call]
    expanded: int

    @property
    def length(self) -> int:
        return len(self.calls)


def shortest_plans(sim: Simulator, state: Mapping[str, Any], goal: str, max_depth: int = 6,
                   max_expanded: int = 20000, limit: int = 1, calls: list[Call] | None = None) -> list[Solution]:
    """Up to `limit` distinct shortest legal plans (all of the minimal length) reaching `goal`.

    `calls` sets the order in which actions are tried (default: catalogue order); a planner
    that prefers some actions passes them first and gets those plans first.
    """
    g = sim.goal_check(goal)
    order = sorted(state)
    start = dict(state)
    if g.success(start, {}) and not (g.fail and g.fail(start, {})):
        return [Solution([], 0)]
    calls = calls if calls is not None else sim.all_calls()
    seen = {tuple(start[k] for k in order)}
    frontier: deque = deque([(start, [])])
    expanded = 0
    found: list[Solution] = []
    found_depth = None
    while frontier:
        s, path = frontier.popleft()
        if found_depth is not None and len(path) >= found_depth:
            break
        if len(path) >= max_depth or expanded >= max_expanded:
            break
        expanded += 1
        for call in calls:
            nxt = dict(s)
            viol: list = []
            if not sim.apply(nxt, len(path) + 1, call.action, call.args, None, viol):
                continue
            if viol or (g.fail is not None and g.fail(nxt, {})):
                continue
            new_path = path + [call]
            if g.success(nxt, {}):
                found.append(Solution(new_path, expanded))
                found_depth = len(new_path)
                if len(found) >= limit:
                    return found
                continue
            key = tuple(nxt[k] for k in order)
            if key in seen:
                continue
            seen.add(key)
            frontier.append((nxt, new_path))
    return found


def shortest_plan(sim: Simulator, state: Mapping[str, Any], goal: str, max_depth: int = 6,
                  max_expanded: int = 20000) -> Solution | None:
    found = shortest_plans(sim, state, goal, max_depth, max_expanded, limit=1)
    return found[0] if found else None
