"""The NPC's turn contract (DESIGN.md §2): the one prompt a model sees at every turn.

At every turn the game tells the NPC its goal, the steps so far, the CURRENT encounter state as
the simulator reports it after those steps, and what the last step changed; the NPC answers with
``<think>...</think>`` and exactly one step. Every prompt user builds it here: the warm-up corpus,
the SRL examples (the expert's steps replayed through the simulator), RLVR rollouts, evaluation
and ``srl-pipeline eval``. A studio's engine feeds the same observation at inference time.

Layout (short on purpose: prompt tokens dominate the CPU cost of the tiny models)::

    Species: vampire
    Lore:
    - [voice] ...
    Goal: strike_bargain: the mortal agrees to a bargain
    Steps so far:
    1. **Speak of the night** converse(topic=the_night) | "..."
    State now: combat=False; ...; trust=3
    Last step changed: trust 2->3
    Write your reasoning in <think>...</think>, then exactly one step 2. **Title** action(arg=value) | "line", one of the moves now.
    Moves now: converse(topic=old_wars|the_night); intimidate(target=player); move(to=castle|forest)

The lore sits right after the species line (the context the built-in warm-up may leave out, see
``training.base_models._rows``); the goal, the history and the current observation sit next to the
answer, where a tiny model attends best. No starting state: the current state replaces it.

``Moves now:`` is the game engine's action menu: the calls the simulator accepts in the current
state (actions in catalogue order, each argument's allowed values joined by ``|``; an action whose
legal argument combinations are not a full product lists each combination). It is part of the
observation (training only ever learns it as the rules' answer to the state shown: the built-in
warm-up, ``WarmupSettings.learn_menu``); it tells the NPC what it *can* do, not what reaches
the goal: plans, goals and rules are unchanged. ``(none)`` when nothing is legal.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .rules import RuleSet
from .simulator import Simulator, Violation
from .steps import StepFormatError, parse_step

TURN_CONTRACT_VERSION = "3"
STEP_FORMAT_EXAMPLE = '3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'
NO_STEP_YET = "(no step yet)"
STEP_FORMAT = '{n}. **Title** action(arg=value) | "line"'

_SIMULATORS: dict[int, tuple[RuleSet, Simulator]] = {}


def simulator_for(ruleset: RuleSet) -> Simulator:
    """One compiled simulator per rule set object (the rule set is kept alive beside it)."""
    hit = _SIMULATORS.get(id(ruleset))
    if hit is None or hit[0] is not ruleset:
        hit = (ruleset, Simulator(ruleset))
        _SIMULATORS[id(ruleset)] = hit
    return hit[1]


def _value(v: Any) -> str:
    if isinstance(v, (set, frozenset, list, tuple)):
        return ", ".join(sorted(v)) or "nothing"
    return str(v)


def describe_state(state: Mapping[str, Any]) -> str:
    return "; ".join(f"{k}={_value(state[k])}" for k in sorted(state))


def observed_state(prompt: str, ruleset: RuleSet) -> dict[str, Any] | None:
    """A turn prompt's ``State now:`` line read back into a simulator state (the inverse of
    :func:`describe_state`, typed by the rule set's variables): what the NPC was shown, so a reward
    can replay a call in it. ``None`` when the line is missing or names a variable or value the
    rules do not know."""
    marker = "\nState now: "
    if marker not in prompt:
        return None
    line = prompt.rsplit(marker, 1)[1].split("\n", 1)[0]
    specs = ruleset.state
    state: dict[str, Any] = {}
    for part in line.split("; "):
        name, sep, text = part.partition("=")
        spec = specs.get(name)
        if not sep or spec is None:
            return None
        if spec.type == "bool":
            if text not in ("True", "False"):
                return None
            value: Any = text == "True"
        elif spec.type == "int":
            try:
                value = int(text)
            except ValueError:
                return None
        elif spec.type == "set":
            items = [] if text == "nothing" else text.split(", ")
            known = {str(v): v for v in spec.values}
            if any(i not in known for i in items):
                return None
            value = frozenset(known[i] for i in items)
        else:
            known = {str(v): v for v in spec.values}
            if text not in known:
                return None
            value = known[text]
        if not spec.accepts(value):
            return None
        state[name] = value
    return state if set(state) == set(specs) else None


def describe_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """``var old->new`` for every variable the step changed, or ``nothing``."""
    parts = [f"{k} {_value(before.get(k))}->{_value(after[k])}" for k in sorted(after) if before.get(k) != after[k]]
    return "; ".join(parts) or "nothing"


def legal_calls(ruleset: RuleSet, state: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every catalogue call the simulator accepts in ``state`` (line length aside: the line is the
    NPC's to write), in catalogue order."""
    sim = simulator_for(ruleset)
    legal = []
    for call in sim.all_calls():
        probe: dict[str, Any] = dict(state)
        if sim.apply(probe, 1, call.action, call.args, None, []):
            legal.append((call.action, dict(call.args)))
    return legal


def describe_moves(ruleset: RuleSet, state: Mapping[str, Any]) -> str:
    """The ``Moves now:`` menu: legal calls grouped per action, values per argument joined by ``|``."""
    by_action: dict[str, list[dict[str, str]]] = {}
    for action, args in legal_calls(ruleset, state):
        by_action.setdefault(action, []).append(args)
    parts = []
    for action, combos in by_action.items():
        names = list(combos[0])
        values = {n: sorted({c[n] for c in combos}) for n in names}
        size = 1
        for n in names:
            size *= len(values[n])
        if size == len(combos):
            parts.append(f"{action}({', '.join(f'{n}={chr(124).join(values[n])}' for n in names)})")
        else:
            parts.extend(f"{action}({', '.join(f'{n}={c[n]}' for n in names)})" for c in combos)
    return "; ".join(parts) or "(none)"


def menu_actions(prompt: str) -> list[str]:
    """The action names of a turn prompt's ``Moves now:`` menu, in its order (each once)."""
    menu = prompt.rsplit("\nMoves now: ", 1)[1].split("\n", 1)[0] if "\nMoves now: " in prompt else ""
    names = (part.split("(", 1)[0].strip() for part in menu.split("; ") if "(" in part)
    return list(dict.fromkeys(name for name in names if name))  # "(none)": nothing is legal


def menu_calls(prompt: str) -> list[str]:
    """Every call a turn prompt's ``Moves now:`` menu offers, spelt as a step writes it
    (``action(name=value, ...)``): the per-argument ``|`` alternatives expanded."""
    menu = prompt.rsplit("\nMoves now: ", 1)[1].split("\n", 1)[0] if "\nMoves now: " in prompt else ""
    calls: list[str] = []
    for part in menu.split("; "):
        if "(" not in part or not part.endswith(")"):
            continue
        action, inner = part[:-1].split("(", 1)
        if not action.strip():
            continue  # "(none)": nothing is legal
        combos: list[list[str]] = [[]]
        for arg in (a for a in inner.split(", ") if a):
            name, _, values = arg.partition("=")
            combos = [c + [f"{name}={v}"] for c in combos for v in values.split("|")]
        calls.extend(f"{action.strip()}({', '.join(c)})" for c in combos)
    return list(dict.fromkeys(calls))


def spoken_lines(prompt: str) -> list[str]:
    """The in-character lines of a turn prompt's ``Steps so far:`` (what the NPC already said this
    encounter), in order; unreadable steps are skipped."""
    prompt = "\n" + prompt
    if "\nSteps so far:\n" not in prompt:
        return []
    block = prompt.rsplit("\nSteps so far:\n", 1)[1].split("\nState now: ", 1)[0]
    lines = []
    for text in block.split("\n"):
        try:
            lines.append(parse_step(text.strip()).line)
        except StepFormatError:  # "(none yet)", or a broken step of a rollout
            continue
    return lines


def line_key(line: str) -> str:
    """A line as repeats are judged: case and spacing aside."""
    return " ".join(line.casefold().split())


def repeats_spoken_line(line: str, prompt: str) -> bool:
    """Whether ``line`` says again what the NPC already said this encounter (``prompt``'s steps so far)."""
    key = line_key(line)
    return any(line_key(said) == key for said in spoken_lines(prompt))


def goal_text(goal: str, ruleset: RuleSet) -> str:
    g = ruleset.goals.get(goal)
    return f"{goal}: {g.description}" if g is not None and g.description else goal


def replay(ruleset: RuleSet, start: Mapping[str, Any], steps: Sequence[str]) -> tuple[dict[str, Any], str]:
    """(current state, what the last step changed) after applying ``steps`` (step lines) from
    ``start`` with the simulator. An illegal or unparsable step is not applied (as in the game):
    its change reads ``nothing (illegal: <rule>)``."""
    sim = simulator_for(ruleset)
    state = sim.initial_state(start)
    changed = NO_STEP_YET
    for number, text in enumerate(steps, start=1):
        before = dict(state)
        try:
            step = parse_step(text.strip())
        except StepFormatError:
            changed = "nothing (unreadable step)"
            continue
        out: list[Violation] = []
        if sim.apply(state, number, step.action, step.args_dict, step.line, out):
            changed = describe_change(before, state)
        else:
            changed = f"nothing (illegal: {out[0].rule})" if out else "nothing"
    return state, changed


def turn_prompt(species: str, goal: str, ruleset: RuleSet, state: Mapping[str, Any], lore_text: str,
                previous_steps: Sequence[str], changed: str = NO_STEP_YET, hint_title: str | None = None) -> str:
    """The turn prompt from an observation the caller already has (the live state of a rollout)."""
    prev = "\n".join(previous_steps) if previous_steps else "(none yet)"
    hint = f"\nHint: the next step is titled \"{hint_title}\"." if hint_title else ""
    n = len(previous_steps) + 1
    return (f"Species: {species}\nLore:\n{lore_text}\nGoal: {goal_text(goal, ruleset)}\nSteps so far:\n{prev}\n"
            f"State now: {describe_state(state)}\nLast step changed: {changed}\n"
            f"Write your reasoning in <think>...</think>, then exactly one step {STEP_FORMAT.format(n=n)}, "
            f"one of the moves now.{hint}\n"
            f"Moves now: {describe_moves(ruleset, state)}")


def scenario_turn_prompt(species: str, goal: str, ruleset: RuleSet, start: Mapping[str, Any], lore_text: str,
                         previous_steps: Sequence[str], hint_title: str | None = None) -> str:
    """The turn prompt after ``previous_steps`` from the scenario's starting state (replayed)."""
    state, changed = replay(ruleset, start, previous_steps)
    return turn_prompt(species, goal, ruleset, state, lore_text, previous_steps, changed, hint_title)


def fixed_phrases() -> str:
    """The contract's fixed words (for the built-in tokenizer's training text)."""
    return ("Species: \nLore:\nGoal: \nSteps so far:\n(none yet)\nState now: \nLast step changed: "
            f"{NO_STEP_YET}\nnothing (illegal: )\n"
            f"Write your reasoning in <think>...</think>, then exactly one step {STEP_FORMAT.format(n=1)}, "
            "one of the moves now.\nHint: the next step is titled \"\".\nMoves now: ")
