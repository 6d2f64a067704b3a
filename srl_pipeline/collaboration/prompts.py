"""How scenarios, rules, lore and plans are written out as text for models (and for SRL prompts).

One place, so the teacher, the verifier and the SRL dataset describe the world the same way.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..game.rules import RuleSet
from ..game.scenarios import Scenario

PROMPT_VERSION = "1"
# The per-turn prompt of every model (warm-up, SRL, RLVR, evaluation) is the turn contract:
# srl_pipeline.game.turn.turn_prompt.
from ..game.turn import STEP_FORMAT_EXAMPLE, describe_state  # noqa: E402,F401  (re-exported for the teacher's prompts)


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
