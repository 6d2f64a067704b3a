"""Menu-covering groups: each completion of a GRPO group commits to a different move of the menu.

SRL learns from the spread of rewards inside a group of ``G`` completions of one turn prompt.
Sampled freely, a tiny base names the same one or two actions in most of a group (the built-in
Bronze: the expert's call in about a third of the groups, ``EXPERIMENTS.md``), so most groups
compare a move with itself and teach nothing about the decision.

With ``group_exploration: menu`` every completion of a group starts with the think of the
built-in models' format (``<think>I am a vampire. I can converse, request_invitation. I will
converse.</think>``, :func:`~..warmup_corpus.thought`), whose last words name one action of the
turn's ``Moves now:`` menu: the group's rows take the menu's actions in a seeded random order (all
of them when the menu has at most ``G``; ``G`` different ones otherwise). The model writes the
rest of the step itself (its title, arguments and line), its call held to that action's calls on
the menu (:class:`~..menu_constraint.MenuConstraint` with per-row targets: the tiny base does not
reliably write the action its think names), and the reward scores the whole completion as usual. The prefix is part of the completion, so GRPO's gradient moves the
probability of the think's choice by the advantage of what followed it: within a group, the tokens
the rows share cancel, and the action names carry the comparison. Nothing about the goal or the
expert enters the prefix; the menu is the game's observation (the rules' legal moves).

Exploration only: it changes which completions are drawn, never the reward, and evaluation
decodes freely. Only for the built-in format (plain prompts with a ``Moves now:`` menu); a
prompt without a menu gets no prefix (its rows sample freely).
"""

from __future__ import annotations

import random
from typing import Sequence

from ...game.turn import menu_actions
from ..menu_constraint import call_targets
from ..warmup_corpus import thought

__all__ = ["EXPLORATIONS", "group_prefixes", "prompt_species"]

EXPLORATIONS = ("sample", "menu")


def prompt_species(prompt: str) -> str | None:
    """The species a turn prompt names on its first line (``Species: vampire``)."""
    first = prompt.lstrip("\n").split("\n", 1)[0]
    return first[len("Species: "):].strip() or None if first.startswith("Species: ") else None


def group_prefixes(prompt: str, group_size: int, seed: int) -> list[tuple[str, list[str]]]:
    """Per row of one group: (completion prefix, the calls its step may write). ``("", [])``: the
    row samples freely (a prompt without a menu)."""
    actions = menu_actions(prompt)
    species = prompt_species(prompt)
    if not actions or species is None:
        return [("", [])] * group_size
    order = list(actions)
    random.Random(seed).shuffle(order)
    calls = call_targets(prompt)
    rows = []
    for i in range(group_size):
        action = order[i % len(order)]
        rows.append((f"\n<think>{thought(species, actions, action)}</think>\n",
                     [c for c in calls if c.startswith(f" {action}(")]))
    return rows
