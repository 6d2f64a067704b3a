"""Simulator throughput: simulated steps per second on one core, over generated plans.

    python bench/simulator_throughput.py [--seconds 1.0] [--root configs/game] [--scenarios 40]

For every species in the game data that loads (species that fail to load are reported and
skipped), it generates scenarios, builds plans for them — the solver's shortest plans plus seeded
random call sequences drawn from `Simulator.all_calls()` (with spoken lines of random length, and a
few unknown actions and bad arguments) — and times `Simulator.run` over them.

Baseline (measured in the same run, on the same plans): a naive, uncompiled interpreter of the
same rules that re-walks each Condition's atoms (resolving `$param` references and dispatching on
the operator per check), scans the whole constraint list for every step and interprets the effect
specs. Its results are compared with the simulator's on every plan, so the baseline has the same
semantics; any disagreement is reported and makes the exit status non-zero. For scale, a trivial
loop that only copies the state once per step is also timed, and the target (50,000 steps/s) is
checked.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srl_pipeline.game.conditions import Condition, Ref  # noqa: E402
from srl_pipeline.game.errors import GameDataError  # noqa: E402
from srl_pipeline.game.names import SPECIES_NAME  # noqa: E402
from srl_pipeline.game.rules import RuleSet  # noqa: E402
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios  # noqa: E402
from srl_pipeline.game.simulator import Call, SimResult, Simulator, Violation  # noqa: E402
from srl_pipeline.game.solver import shortest_plan  # noqa: E402
from srl_pipeline.game.sources import FileGameStateSource, GameFiles  # noqa: E402

TARGET = 50_000
WORDS = "the night is long and your blood runs warm mortal leave now or stay forever".split()


# ---------------------------------------------------------------------------------------
# The baseline: a naive interpreter of the same rules
# ---------------------------------------------------------------------------------------
def _atom_holds(atom, state: Mapping[str, Any], args: Mapping[str, str]) -> bool:
    value = args[atom.value.param] if isinstance(atom.value, Ref) else atom.value
    x = state[atom.var]
    op = atom.op
    if op == "eq":
        return x == value
    if op == "in":
        return x in value
    if op == "gte":
        return x >= value
    if op == "lte":
        return x <= value
    if op == "not":
        return x not in value if isinstance(value, frozenset) else x != value
    if op == "has":
        return value in x
    return value not in x  # lacks


def _holds(cond: Condition, state: Mapping[str, Any], args: Mapping[str, str]) -> bool:
    if not all(_atom_holds(a, state, args) for a in cond.atoms):
        return False
    return not cond.any_of or any(_holds(sub, state, args) for sub in cond.any_of)


def _apply_effect(kind: str, var: str, value: Any, state: dict[str, Any], args: Mapping[str, str], ruleset: RuleSet) -> None:
    if isinstance(value, Ref):
        value = args[value.param]
    elif isinstance(value, str) and value.startswith("$"):
        value = args[value[1:]]
    spec = ruleset.state[var]
    if kind == "set":
        state[var] = value
    elif kind == "add":
        state[var] = max(spec.min, min(spec.max, state[var] + value))
    elif kind == "add_item":
        state[var] = frozenset(state[var]) | {value}
    else:
        state[var] = frozenset(state[var]) - {value}


class NaiveSimulator:
    """Same semantics as Simulator, interpreted from the rule objects on every check."""

    def __init__(self, ruleset: RuleSet):
        self.rs = ruleset
        world = ruleset.rules.world
        self.reactions = []  # (when Condition, [(kind, var, value)]) from the world's raw data
        for r, raw in zip(world.reactions, world.raw.get("reactions") or []):
            effects = []
            for e in raw.get("effects") or []:
                kind = next(k for k in ("set", "add", "add_item", "remove_item") if k in e)
                effects.append((kind, e[kind], e["value"]))
            self.reactions.append((r.when, effects))

    def run(self, state: Mapping[str, Any], plan: Sequence[Call], goal_name: str) -> SimResult:
        rs = self.rs
        goal = rs.goals[goal_name]
        s = dict(state)
        out: list[Violation] = []
        failed, applied, first = False, 0, None
        for i, call in enumerate(plan, start=1):
            action = rs.actions.get(call.action)
            args = call.args
            if action is None:
                out.append(Violation(i, "unknown_action", "unknown_action", ""))
            elif set(args) != set(action.params) or any(v not in action.params[k] for k, v in args.items()):
                out.append(Violation(i, "bad_arguments", "bad_arguments", ""))
            else:
                before = len(out)
                for pre in action.preconditions:
                    if not _holds(pre.when, s, args):
                        out.append(Violation(i, pre.id, "precondition", ""))
                for c in rs.constraints:
                    if c.kind == "forbid" and call.action in c.actions and (c.condition is None or _holds(c.condition, s, args)):
                        out.append(Violation(i, c.id, "forbidden", ""))
                for c in rs.constraints:
                    if c.kind == "require" and call.action in c.actions and not _holds(c.condition, s, args):
                        out.append(Violation(i, c.id, "required", ""))
                if call.line is not None:
                    words = len(call.line.split())
                    for c in rs.constraints:
                        if c.kind == "line" and ((c.min_words is not None and words < c.min_words)
                                                 or (c.max_words is not None and words > c.max_words)):
                            out.append(Violation(i, c.id, "line", ""))
                if len(out) == before:
                    saved = dict(s)
                    for kind, var, value in action.effect_specs:
                        _apply_effect(kind, var, value, s, args, rs)
                    for when, effects in self.reactions:
                        if _holds(when, s, {}):
                            for kind, var, value in effects:
                                _apply_effect(kind, var, value, s, {}, rs)
                    for c in rs.constraints:
                        if c.kind == "invariant" and not _holds(c.condition, s, {}):
                            out.append(Violation(i, c.id, "invariant", ""))
                    if len(out) == before:
                        applied += 1
                    else:  # breaking an invariant makes the step illegal: not applied
                        s = saved
            if goal.fail is not None and not failed and _holds(goal.fail, s, {}):
                failed = True
            if first is None and _holds(goal.success, s, {}):
                first = i
        return SimResult(goal_name, _holds(goal.success, s, {}), failed, out, s, applied, first)


def trivial_run(state: Mapping[str, Any], plan: Sequence[Call], goal: str) -> None:
    """Floor reference: one dict copy per step and nothing else."""
    s = dict(state)
    for _ in plan:
        s = dict(s)


# ---------------------------------------------------------------------------------------
# Workload
# ---------------------------------------------------------------------------------------
Workload = list[tuple[dict[str, Any], list[Call], str]]


def build_workload(ruleset: RuleSet, profiles: dict, n_scenarios: int, seed: int) -> tuple[Workload, int]:
    sim = Simulator(ruleset)
    rng = random.Random(f"bench:{ruleset.species}:{seed}")
    scenarios = generate_scenarios(ruleset, ScenarioSpec(count=n_scenarios, seed=seed), profiles)
    calls = sim.all_calls()
    some_action = calls[0].action
    junk = [Call("no_such_action", {}), Call(some_action, {"no_such_param": "x"})]
    work: Workload = []
    solver_plans = 0
    for sc in scenarios:
        sol = shortest_plan(sim, sc.state, sc.goal)
        if sol is not None and sol.calls:
            work.append((sc.state, [Call(c.action, c.args, _line(rng)) for c in sol.calls], sc.goal))
            solver_plans += 1
        for _ in range(3):
            plan = []
            for _ in range(rng.randint(1, 12)):
                call = rng.choice(junk) if rng.random() < 0.03 else rng.choice(calls)
                plan.append(Call(call.action, call.args, _line(rng) if rng.random() < 0.8 else None))
            work.append((sc.state, plan, sc.goal))
    return work, solver_plans


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14)))


def time_runs(run: Callable[[Mapping[str, Any], Sequence[Call], str], Any], work: Workload, seconds: float) -> float:
    """Steps per second of `run` over `work`, repeated for at least `seconds`."""
    steps_per_pass = sum(len(plan) for _, plan, _ in work)
    passes, elapsed = 0, 0.0
    start = time.perf_counter()
    while elapsed < seconds or passes == 0:
        for state, plan, goal in work:
            run(state, plan, goal)
        passes += 1
        elapsed = time.perf_counter() - start
    return steps_per_pass * passes / elapsed


def _same(a: SimResult, b: SimResult) -> bool:
    return ((a.goal_reached, a.goal_failed, a.final_state, a.steps_applied, a.first_success_step,
             [(v.step, v.rule, v.kind) for v in a.violations])
            == (b.goal_reached, b.goal_failed, b.final_state, b.steps_applied, b.first_success_step,
                [(v.step, v.rule, v.kind) for v in b.violations]))


# ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per species and evaluator (default 1.0)")
    ap.add_argument("--root", type=Path, default=REPO / "configs" / "game")
    ap.add_argument("--scenarios", type=int, default=40, help="scenarios per species (default 40)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass
    files = GameFiles(args.root)
    try:
        world = files.load_world()
    except GameDataError as exc:
        print(f"cannot load the world: {exc}")
        return 2
    try:
        events = FileGameStateSource(files.game_state_path).active_events()
    except GameDataError as exc:
        print(f"game state unreadable ({exc}); using no events")
        events = []
    names = [p.name for p in files.candidate_dirs() if SPECIES_NAME.match(p.name) and (p / "rules.yaml").is_file()]
    print(f"python {sys.version.split()[0]}, one core; events in force: {events or 'none'}; "
          f"{args.seconds:g}s per measurement; target {TARGET:,} steps/s")
    print(f"{'species':12s} {'plans':>6s} {'steps':>7s} {'simulator':>14s} {'naive':>12s} {'ratio':>6s} {'vs target':>9s}")
    total_steps = total_time = 0.0
    naive_steps = naive_time = 0.0
    trivial = []
    mismatches = 0
    for species in names:
        try:
            ruleset = RuleSet.resolve(files.load_rules(species, world), events)
        except GameDataError as exc:
            print(f"{species:12s} skipped: {str(exc).splitlines()[0]}")
            continue
        work, solver_plans = build_workload(ruleset, world.player_profiles, args.scenarios, args.seed)
        if not work:
            print(f"{species:12s} skipped: no scenarios")
            continue
        sim, naive = Simulator(ruleset), NaiveSimulator(ruleset)
        for state, plan, goal in work:
            if not _same(sim.run(state, plan, goal), naive.run(state, plan, goal)):
                mismatches += 1
        steps = sum(len(p) for _, p, _ in work)
        fast = time_runs(sim.run, work, args.seconds)
        slow = time_runs(naive.run, work, args.seconds)
        trivial.append(time_runs(trivial_run, work, min(args.seconds, 0.5)))
        total_steps += steps * args.seconds
        total_time += steps * args.seconds / fast
        naive_steps += steps * args.seconds
        naive_time += steps * args.seconds / slow
        print(f"{species:12s} {len(work):6d} {steps:7d} {fast:12,.0f}/s {slow:10,.0f}/s {fast / slow:5.2f}x "
              f"{fast / TARGET:8.1f}x   ({solver_plans} solver plans)")
    if not total_time:
        print("no species could be loaded; nothing to measure")
        return 2
    overall, overall_naive = total_steps / total_time, naive_steps / naive_time
    print(f"{'overall':12s} {'':6s} {'':7s} {overall:12,.0f}/s {overall_naive:10,.0f}/s {overall / overall_naive:5.2f}x "
          f"{overall / TARGET:8.1f}x")
    print(f"trivial dict-copy loop (one state copy per step, no rules): {sum(trivial) / len(trivial):,.0f} steps/s "
          f"-> the simulator runs at {overall / (sum(trivial) / len(trivial)):.2f}x of it")
    print(f"target {TARGET:,} steps/s: {'met' if overall >= TARGET else 'NOT met'} ({overall / TARGET:.1f}x)")
    if mismatches:
        print(f"ERROR: {mismatches} plans where the simulator and the naive baseline disagree")
        return 1
    print("simulator and naive baseline agree on every plan")
    return 0 if overall >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
