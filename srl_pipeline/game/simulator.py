"""The deterministic simulator: applies a plan to a scenario's state under the rules in force.

It reports every violated precondition or constraint by name and whether the goal was reached.
It is the verifier's judge and RLVR's reward, so it is compiled once per rule set into flat lists
of closures and runs without allocation beyond one state copy per plan.

Semantics: an illegal step (unknown action, bad arguments, failed precondition, forbidden or
unmet constraint, bad line, or an outcome that breaks an invariant) is reported and *not
applied*; legal steps apply their effects, then the world's reactions. A goal's `fail` condition holding after any
step fails the goal. Success means the goal's `success` condition holds after the last step, the
goal never failed, and no step violated anything.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from .conditions import Check, Effect
from .rules import RuleSet


class Violation(NamedTuple):
    step: int          # 1-based
    rule: str          # precondition / constraint id, or a built-in name
    kind: str          # unknown_action | bad_arguments | precondition | forbidden | required | invariant | line
    message: str


class Call(NamedTuple):
    """An action call; `Step` from the step format also fits (action, args_dict, line)."""

    action: str
    args: Mapping[str, str]
    line: str | None = None


@dataclass
class SimResult:
    goal: str
    goal_reached: bool
    goal_failed: bool
    violations: list[Violation]
    final_state: dict[str, Any]
    steps_applied: int
    first_success_step: int | None = None

    @property
    def success(self) -> bool:
        return self.goal_reached and not self.goal_failed and not self.violations

    @property
    def legal(self) -> bool:
        return not self.violations

    def violated_rules(self) -> list[str]:
        return [v.rule for v in self.violations]


@dataclass
class _CompiledAction:
    name: str
    params: dict[str, frozenset]
    preconditions: list[tuple[str, Check]]
    forbids: list[tuple[str, Check | None]]
    requires: list[tuple[str, Check]]
    effects: list[Effect]


@dataclass
class _CompiledGoal:
    success: Check
    fail: Check | None


_NO_ARGS: dict[str, str] = {}


@dataclass
class Simulator:
    ruleset: RuleSet
    _actions: dict[str, _CompiledAction] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rs = self.ruleset
        self._actions = {}
        for name, a in rs.actions.items():
            forbids = [(c.id, c.condition.check if c.condition else None)
                       for c in rs.constraints if c.kind == "forbid" and name in c.actions]
            requires = [(c.id, c.condition.check) for c in rs.constraints if c.kind == "require" and name in c.actions]
            self._actions[name] = _CompiledAction(
                name, {p: frozenset(v) for p, v in a.params.items()},
                [(p.id, p.when.check) for p in a.preconditions], forbids, requires, list(a.effects))
        self._reactions = [(r.when.check, r.effects) for r in rs.rules.world.reactions]
        self._invariants = [(c.id, c.condition.check) for c in rs.constraints if c.kind == "invariant"]
        self._lines = [(c.id, c.min_words, c.max_words) for c in rs.constraints if c.kind == "line"]
        self._goals = {n: _CompiledGoal(g.success.check, g.fail.check if g.fail else None) for n, g in rs.goals.items()}

    # -- state ---------------------------------------------------------------------------
    def initial_state(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults of every variable, then `overrides` (validated)."""
        state = {name: spec.default for name, spec in self.ruleset.state.items()}
        for name, value in (overrides or {}).items():
            spec = self.ruleset.state.get(name)
            if spec is None:
                raise KeyError(f"unknown state variable {name!r}")
            if spec.type == "set":
                value = frozenset(value)
            if not spec.accepts(value):
                raise ValueError(f"invalid value {value!r} for state variable {name!r}")
            state[name] = value
        return state

    # -- one step ------------------------------------------------------------------------
    def apply(self, state: dict[str, Any], number: int, action: str, args: Mapping[str, str],
              line: str | None, out: list[Violation]) -> bool:
        """Check and (if legal) apply one call to `state` in place; append violations to `out`."""
        act = self._actions.get(action)
        if act is None:
            out.append(Violation(number, "unknown_action", "unknown_action", f"{action!r} is not in the catalogue"))
            return False
        params = act.params
        if len(args) != len(params) or any(params.get(k) is None or v not in params[k] for k, v in args.items()):
            out.append(Violation(number, "bad_arguments", "bad_arguments",
                                 f"{action}{dict(args)} does not match parameters {{{', '.join(f'{k}: {sorted(v)}' for k, v in params.items())}}}"))
            return False
        before = len(out)
        for pid, check in act.preconditions:
            if not check(state, args):
                out.append(Violation(number, pid, "precondition", f"{action}: precondition {pid} does not hold"))
        for cid, when in act.forbids:
            if when is None or when(state, args):
                out.append(Violation(number, cid, "forbidden", f"{action} is forbidden by {cid}"))
        for cid, check in act.requires:
            if not check(state, args):
                out.append(Violation(number, cid, "required", f"{action} needs {cid}"))
        if line is not None and self._lines:
            words = len(line.split())
            for cid, lo, hi in self._lines:
                if (lo is not None and words < lo) or (hi is not None and words > hi):
                    out.append(Violation(number, cid, "line", f"line has {words} words, outside {lo}..{hi}"))
        if len(out) != before:
            return False
        snapshot = dict(state) if self._invariants else None
        for eff in act.effects:
            eff(state, args)
        for when, effects in self._reactions:
            if when(state, _NO_ARGS):
                for eff in effects:
                    eff(state, _NO_ARGS)
        if snapshot is not None:
            for iid, check in self._invariants:
                if not check(state, _NO_ARGS):
                    out.append(Violation(number, iid, "invariant", f"invariant {iid} broken after {action}"))
            if len(out) != before:  # a step that breaks an invariant is illegal: undo it
                state.clear()
                state.update(snapshot)
                return False
        return True

    # -- a plan --------------------------------------------------------------------------
    def run(self, state: Mapping[str, Any], plan: Sequence[Any], goal: str) -> SimResult:
        """Simulate `plan` (Calls or Steps) from a copy of `state` towards `goal`."""
        g = self._goals.get(goal)
        if g is None:
            raise KeyError(f"unknown goal {goal!r} for species {self.ruleset.species!r}")
        s = dict(state)
        violations: list[Violation] = []
        failed = False
        applied = 0
        first_success = None
        for i, call in enumerate(plan, start=1):
            args = call.args_dict if hasattr(call, "args_dict") else call.args
            if self.apply(s, i, call.action, args, getattr(call, "line", None), violations):
                applied += 1
            if g.fail is not None and not failed and g.fail(s, _NO_ARGS):
                failed = True
            if first_success is None and g.success(s, _NO_ARGS):
                first_success = i
        return SimResult(goal, g.success(s, _NO_ARGS), failed, violations, s, applied, first_success)

    def goal_check(self, goal: str) -> _CompiledGoal:
        return self._goals[goal]

    # -- enumeration (planner / solver) --------------------------------------------------
    def all_calls(self) -> list[Call]:
        """Every action call the catalogue allows, in catalogue order (deterministic)."""
        calls = []
        for a in sorted(self.ruleset.actions.values(), key=lambda a: a.index):
            names = list(a.params)
            for combo in itertools.product(*(a.params[n] for n in names)):
                calls.append(Call(a.name, dict(zip(names, combo))))
        return calls


def state_key(state: Mapping[str, Any], order: Iterable[str]) -> tuple:
    return tuple(state[k] for k in order)
