"""The ``effect`` SRL reward: the step's decision judged by what it does in the game.

The ``decision`` variant (:mod:`.srl_decision`) scores the action's *name* and *arguments* against
the expert's. Many of the expert's arguments are arbitrary among equals: ``converse(topic=lineage)``
and ``converse(topic=old_wars)`` both raise a vampire's trust by one, and ``ask_secret`` works
``about`` anything. Scoring the spelling rewards guessing which of the equal calls the expert's
planner happened to write, noise that competes with the decision in GRPO's group ranking.

This variant lets the simulator judge: the model's call and the expert's call are each applied to
the state the NPC was shown (the turn prompt's ``State now:`` line, read back by
:func:`~srl_pipeline.game.turn.observed_state`); a legal call that leaves the game in the same state
as the expert's is the expert's decision (0.7). Another legal call earns 0.1 (it keeps the
encounter going; an illegal one ends it). The in-character line (0.2, no score for a line already
spoken this encounter, as in ``decision``) and the title (0.1) are scored by difflib as before. A
broken format is -1, the expert's step scores 1.0, and the think text never enters it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ...game.rules import RuleSet
from ...game.steps import StepFormatError, parse_step
from ...game.turn import observed_state, repeats_spoken_line, simulator_for
from .srl_step import FORMAT_PENALTY, extract_step, step_similarity

W_EFFECT, W_LEGAL, W_LINE, W_TITLE = 0.7, 0.1, 0.2, 0.1

__all__ = ["call_reward", "effect_reward", "effect_reward_for", "next_state"]


def next_state(ruleset: RuleSet, state: Mapping[str, Any], action: str, args: Mapping[str, str],
               line: str | None) -> dict[str, Any] | None:
    """The state after one call applied to ``state`` (a copy), or ``None`` when the call is illegal."""
    after = dict(state)
    return after if simulator_for(ruleset).apply(after, 1, action, args, line, []) else None


def _judge(completion: str, expert_step: str, prompt: str, ruleset: RuleSet, reward: str):
    """(the model's step, the expert's step, the model's call legal, it does what the expert's does),
    or ``None`` for a broken format; ``ValueError`` (naming ``reward``) for an unreadable state or expert step."""
    step = extract_step(completion)
    if step is None:
        return None
    state = observed_state(prompt, ruleset)
    if state is None:
        raise ValueError(f"{reward} reward: the turn prompt has no 'State now:' line the rules can read")
    got = parse_step(step)
    try:
        want = parse_step(expert_step.strip())
    except StepFormatError as exc:
        raise ValueError(f"{reward} reward: the expert step does not parse: {exc}") from None
    mine = next_state(ruleset, state, got.action, got.args_dict, got.line)
    if mine is None:
        return got, want, False, False
    expert = next_state(ruleset, state, want.action, want.args_dict, want.line)
    return got, want, True, expert is not None and mine == expert


def effect_reward(completion: str, expert_step: str, prompt: str, ruleset: RuleSet) -> float:
    """-1 for a broken format, else the effect-judged score in [0, 1] (see the module docstring).
    Raises ``ValueError`` when ``prompt`` carries no state the rules can read (a reward is never guessed)."""
    judged = _judge(completion, expert_step, prompt, ruleset, "effect")
    if judged is None:
        return FORMAT_PENALTY
    got, want, legal, same = judged
    score = (W_EFFECT if same else W_LEGAL) if legal else 0.0
    if not repeats_spoken_line(got.line, prompt):
        score += W_LINE * step_similarity(got.line, want.line)
    score += W_TITLE * step_similarity(got.title, want.title)
    return score


def call_reward(completion: str, expert_step: str, prompt: str, ruleset: RuleSet) -> float:
    """The decision alone: -1 for a broken format, 1 for the expert's effect, ``W_LEGAL / W_EFFECT``
    for another legal call, 0 for an illegal one. With no line or title score, a group whose rows all
    make the same decision is flat, and dynamic sampling replaces it with one that compares
    decisions (with ``effect`` nearly every group differs a little in its lines and trains on them)."""
    judged = _judge(completion, expert_step, prompt, ruleset, "call")
    if judged is None:
        return FORMAT_PENALTY
    _, _, legal, same = judged
    return (1.0 if same else W_LEGAL / W_EFFECT) if legal else 0.0


def effect_reward_for(ruleset: RuleSet, call_only: bool = False) -> Callable[[str, str, str], float]:
    """:func:`effect_reward` (or :func:`call_reward`) bound to one species' rules, in the variants'
    ``(completion, expert, prompt)`` signature."""
    fn = call_reward if call_only else effect_reward

    def score(completion: str, expert_step: str, prompt: str = "") -> float:
        return fn(completion, expert_step, prompt, ruleset)

    return score
