"""`python -m srl_pipeline.game.validate_data [ROOT]`: load every species and report solvability.

For designers: checks the world, the live game state, lore and rules (every problem on one line
naming file, record and field, all of them in one pass; never a traceback), then generates
scenarios under the live game state and prints, per goal, how many are solvable and how long the
shortest plans are. Lore passages that read like instructions to the pipeline get a WARN line
(the collaboration quarantines them).

Exit status: 0 all good; 2 bad input (any ERROR line); 1 the data is valid but a goal has no
solvable scenario.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from ..collaboration.guardrails import quarantine_report
from ..core.errors import InputError, Problem
from .lore import check_lore_against_rules
from .rules import RuleSet, World, check_events
from .scenarios import ScenarioSpec, generate_scenarios
from .sources import FileLoreSource, GameFiles

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "configs" / "game"
EXIT_BAD_INPUT = 2
EXIT_UNSOLVABLE = 1


def _report(problems: list[Problem], context: str = "") -> None:
    if context:
        print(f"ERROR {context}:")
    for p in problems:
        print(f"ERROR {p}")


def _world_and_events(files: GameFiles) -> tuple[World | None, list[str], list[Problem]]:
    """The world and the live events; the problems of both files, together."""
    problems: list[Problem] = []
    world, events = None, []
    try:
        world = files.load_world()
    except InputError as exc:
        problems += exc.problems
    try:
        source = files.game_state()
        events = source.active_events()
        if world is not None:
            events = check_events(events, world, source.label)
    except InputError as exc:
        problems += exc.problems
    return world, events, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--count", type=int, default=120, help="scenarios per species (1..5000)")
    args = ap.parse_args(argv)
    if not 1 <= args.count <= 5000:
        print(f"ERROR --count must be between 1 and 5000, got {args.count}")
        return EXIT_BAD_INPUT
    files = GameFiles(args.root)
    bad_input = unsolvable = False
    invalid = files.invalid_species()
    if invalid:
        _report(invalid)
        bad_input = True
    world, events, problems = _world_and_events(files)
    if problems:
        _report(problems)
        return EXIT_BAD_INPUT
    for species in files.list_species():
        problems = []
        lore = rules = None
        try:
            lore = FileLoreSource(files).load(species)
        except InputError as exc:
            problems += exc.problems
        try:
            rules = files.load_rules(species, world)
        except InputError as exc:
            problems += exc.problems
        try:
            if lore is not None and rules is not None:
                check_lore_against_rules(lore, set(rules.actions))
            ruleset = RuleSet.resolve(rules, events) if rules is not None else None
        except InputError as exc:
            problems += exc.problems
        if problems:
            _report(problems, species)
            bad_input = True
            continue
        for q in quarantine_report(lore.to_records()):
            print(f"WARN {lore.source}: record passage {q['id']}: quarantined as injection-like text ({q['match']!r}); "
                  "it is left out of every prompt: rewrite it")
        scenarios = generate_scenarios(ruleset, ScenarioSpec(count=args.count), world.player_profiles)
        by_goal = collections.defaultdict(list)
        for s in scenarios:
            by_goal[s.goal].append(s.optimal_steps)
        splits = collections.Counter(s.split for s in scenarios)
        print(f"{species}: {len(lore.passages)} passages, {len(ruleset.actions)} actions, rules {ruleset.version}, "
              f"{len(scenarios)}/{args.count} scenarios, splits {dict(splits)}")
        for goal in sorted(ruleset.goals):
            lengths = by_goal.get(goal, [])
            hist = dict(sorted(collections.Counter(lengths).items()))
            print(f"  {goal:16s} {len(lengths):4d} solvable, shortest plan lengths {hist}")
            if not lengths:
                unsolvable = True
    if bad_input:
        return EXIT_BAD_INPUT
    return EXIT_UNSOLVABLE if unsolvable else 0


if __name__ == "__main__":
    sys.exit(main())
