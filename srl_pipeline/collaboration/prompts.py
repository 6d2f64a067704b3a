"""How scenarios, rules, lore and plans are written out as text for models (and for SRL prompts).

One place, so the teacher, the verifier and the SRL dataset describe the world the same way.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ..game.rules import RuleSet
from ..game.scenarios import Scenario

PROMPT_VERSION = "1"
STEP_FORMAT_EXAMPLE = '3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'


def describe_state(state: Mapping[str, Any]) -> str:
    parts = []
    for k in sorted(state):
        v = state[k]
        if isinstance(v, (set, frozenset, list, tuple)):
            v = ", ".join(sorted(v)) or "nothing"
        parts.append(f"{k}={v}")
    return "; ".join(parts)


def describe_scenario(scenario: Scenario, ruleset: RuleSet) -> str:
    goal = ruleset.goals[scenario.goal]
    return (f"Species: {scenario.species}\n"
            f"Goal: {scenario.goal}: {goal.description}\n"
            f"Encounter state: {describe_state(scenario.state)}")


def describe_catalogue(ruleset: RuleSet) -> str:
    lines = ["Actions (name(parameter=one of ...)): description"]
    for a in sorted(ruleset.actions.values(), key=lambda a: a.index):
        params = ", ".join(f"{p}={'|'.join(v)}" for p, v in a.params.items())
        pres = "; ".join(p.id.replace("_", " ") for p in a.preconditions)
        lines.append(f"- {a.name}({params}): {a.description}" + (f" [needs: {pres}]" if pres else ""))
    lines.append("Rules:")
    for c in ruleset.constraints:
        lines.append(f"- {c.id}: {c.description or c.kind}")
    return "\n".join(lines)


def describe_lore(passages: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(f"- [{p['kind']}] {p['title']}: {p['text']}" for p in passages)


def srl_prompt(scenario_text: str, lore_text: str, previous_steps: Sequence[str], hint_title: str | None = None) -> str:
    """The SRL step-wise prompt: scenario + lore + the expert's previous steps; the model writes
    `<think>...</think>` then exactly the next step."""
    prev = "\n".join(previous_steps) if previous_steps else "(none yet)"
    hint = f"\nHint: the next step is titled \"{hint_title}\"." if hint_title else ""
    n = len(previous_steps) + 1
    return (f"{scenario_text}\nLore:\n{lore_text}\nSteps so far:\n{prev}\n"
            f"Write your reasoning in <think>...</think>, then exactly one step numbered {n} in the format:\n"
            f"{STEP_FORMAT_EXAMPLE}{hint}")
