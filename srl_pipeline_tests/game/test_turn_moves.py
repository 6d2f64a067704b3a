"""The turn contract's ``Moves now:`` line: exactly the calls the simulator accepts in the current state."""

from __future__ import annotations

import random

from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.turn import (describe_moves, legal_calls, menu_actions, menu_calls, repeats_spoken_line, spoken_lines,
                                   turn_prompt)


def _random_states(ruleset, n, seed=0):
    rng = random.Random(seed)
    sim = Simulator(ruleset)
    for _ in range(n):
        state = sim.initial_state()
        for name, spec in ruleset.state.items():
            domain = sorted(spec.domain(), key=repr)
            state[name] = frozenset(rng.sample(domain, min(1, len(domain)))) if spec.type == "set" else rng.choice(domain)
        yield state


def test_menu_lists_exactly_the_legal_calls(ruleset):
    sim = Simulator(ruleset)
    for state in _random_states(ruleset, 30):
        legal = legal_calls(ruleset, state)
        for call in sim.all_calls():
            accepted = sim.apply(dict(state), 1, call.action, call.args, None, [])
            assert accepted == ((call.action, dict(call.args)) in legal)
        menu = describe_moves(ruleset, state)
        if not legal:
            assert menu == "(none)"
        for action, args in legal:
            assert f"{action}(" in menu
            for value in args.values():
                assert value in menu
        legal_actions = {a for a, _ in legal}
        for action in ruleset.actions:
            if action not in legal_actions:
                assert f"; {action}(" not in f"; {menu}"


def test_menu_is_part_of_the_observation(ruleset):
    state = Simulator(ruleset).initial_state()
    goal = sorted(ruleset.goals)[0]
    prompt = turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", [])
    # the menu is the prompt's last line, right before the answer (and inside the unsupervised observation)
    assert prompt.endswith(f"\nMoves now: {describe_moves(ruleset, state)}")
    assert prompt.index("\nState now: ") < prompt.index("\nMoves now: ")


def test_menu_actions_reads_back_the_legal_actions_in_menu_order(ruleset):
    goal = sorted(ruleset.goals)[0]
    seen_menu = False
    for state in _random_states(ruleset, 30, seed=1):
        prompt = turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", [])
        expected = list(dict.fromkeys(action for action, _ in legal_calls(ruleset, state)))
        assert menu_actions(prompt) == expected
        seen_menu |= bool(expected)
    assert seen_menu
    assert menu_actions("Goal: g\nno menu here") == []


def test_spoken_lines_reads_back_what_the_npc_already_said(ruleset):
    goal = sorted(ruleset.goals)[0]
    state = Simulator(ruleset).initial_state()
    steps = ['1. **Greet** converse(topic=x) | "Good evening."', "2. not a step", '3. **Go** move(to=y) | "Away."']
    assert spoken_lines(turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", steps)) == ["Good evening.", "Away."]
    assert spoken_lines(turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", [])) == []
    assert spoken_lines("no contract") == []
    prompt = turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", steps)
    assert repeats_spoken_line("  good   EVENING. ", prompt)          # case and spacing aside
    assert not repeats_spoken_line("Good evening!", prompt) and not repeats_spoken_line("Away.", "no contract")


def test_menu_calls_expands_the_menu_into_exactly_the_legal_calls(ruleset):
    goal = sorted(ruleset.goals)[0]
    for state in _random_states(ruleset, 30, seed=2):
        prompt = turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", [])
        legal = {f"{a}({', '.join(f'{k}={v}' for k, v in args.items())})" for a, args in legal_calls(ruleset, state)}
        assert set(menu_calls(prompt)) == legal
    assert menu_calls("Goal: g\nMoves now: (none)") == []
