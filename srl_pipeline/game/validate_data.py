"""`python -m srl_pipeline.game.validate_data [ROOT]`: load every species and report solvability.

For designers: checks lore and rules (errors name file, record and field), then generates
scenarios under the live game state and prints, per goal, how many are solvable and how long
the shortest plans are.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from .errors import GameDataError
from .lore import check_lore_against_rules
from .rules import RuleSet
from .scenarios import ScenarioSpec, generate_scenarios
from .sources import FileGameStateSource, FileLoreSource, GameFiles

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "configs" / "game"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--count", type=int, default=120)
    args = ap.parse_args(argv)
    files = GameFiles(args.root)
    ok = True
    for p in files.invalid_species():
        print(f"ERROR {p}")
        ok = False
    world = files.load_world()
    events = FileGameStateSource(files.game_state_path).active_events()
    for species in files.list_species():
        try:
            lore = FileLoreSource(files).load(species)
            rules = files.load_rules(species, world)
            check_lore_against_rules(lore, set(rules.actions))
            ruleset = RuleSet.resolve(rules, events)
        except GameDataError as exc:
            print(f"ERROR {species}:\n{exc}")
            ok = False
            continue
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
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
