"""The turn prompt's ``State now:`` line reads back into the simulator state it describes."""

from __future__ import annotations

import random

from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.turn import observed_state, turn_prompt


def _random_state(ruleset, rng):
    state = Simulator(ruleset).initial_state()
    for name, spec in ruleset.state.items():
        domain = sorted(spec.domain(), key=repr)
        state[name] = (frozenset(rng.sample(domain, rng.randint(0, min(2, len(domain))))) if spec.type == "set"
                       else rng.choice(domain))
    return state


def test_every_state_a_prompt_shows_reads_back_exactly(ruleset):
    rng = random.Random(0)
    goal = sorted(ruleset.goals)[0]
    for _ in range(50):
        state = _random_state(ruleset, rng)
        prompt = turn_prompt(ruleset.species, goal, ruleset, state, "- [voice] v", [])
        assert observed_state(prompt, ruleset) == state


def test_a_prompt_without_a_readable_state_gives_none(ruleset):
    state = Simulator(ruleset).initial_state()
    prompt = turn_prompt(ruleset.species, sorted(ruleset.goals)[0], ruleset, state, "- [voice] v", [])
    assert observed_state("Species: vampire\nMoves now: (none)", ruleset) is None
    line = prompt.split("\nState now: ", 1)[1].split("\n", 1)[0]
    assert observed_state(prompt.replace(line, line + "; unknown_var=1"), ruleset) is None   # a variable the rules lack
    assert observed_state(prompt.replace(line, line.split("; ", 1)[1]), ruleset) is None     # one missing
    name = line.split("=", 1)[0]
    assert observed_state(prompt.replace(line, f"{name}=not_a_value; " + line.split("; ", 1)[1]), ruleset) is None
