"""SRL reward variants (one family: a model step against the expert's), selectable with the
``reward`` hyperparameter of SRL (configs/training/srl.yaml).

- ``paper``: the paper's reward (arXiv 2510.25992), :func:`.srl_step.srl_reward`: difflib 2M/T over
  the whole step line, -1 on a broken format. The in-character line is most of a step's characters,
  so a step with the expert's words but the wrong action can outscore the right action said
  differently.
- ``decision``: the same format gate (-1), then the step scored by parts, the decision weighted
  most: action name (0.4), arguments (0.3, the share of the expert's ``name=value`` pairs matched,
  only when the action matches), the line's similarity (0.2, difflib on the quoted line only) and
  the title's (0.1). The expert's step itself scores 1.0, as with ``paper``; the think text never
  enters it. A line the NPC already spoke this encounter (the prompt's ``Steps so far:``) earns no
  line score, as the verifier that filters Bronze's traces halves the voice of a play that repeats
  a line. It seldom fires in SRL, whose steps so far are the expert's (vampire: no measurable
  change, bench/experiments/EXPERIMENTS.md); Bronze's repeats are of its own earlier lines.

Every variant is called ``(completion, expert_step, prompt)``; ``paper`` ignores the prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ...game.steps import StepFormatError, parse_step
from ...game.turn import repeats_spoken_line
from .srl_step import FORMAT_PENALTY, extract_step, srl_reward, step_similarity

if TYPE_CHECKING:
    from ...game.rules import RuleSet

W_ACTION, W_ARGS, W_LINE, W_TITLE = 0.4, 0.3, 0.2, 0.1
REWARDS = ("paper", "decision", "effect", "call")

__all__ = ["REWARDS", "decision_reward", "paper_reward", "reward_function"]


def decision_reward(completion: str, expert_step: str, prompt: str = "") -> float:
    """-1 for a broken format, else the decision-weighted score in [0, 1] (see the module docstring);
    ``prompt`` (the turn prompt) tells which lines were already spoken."""
    step = extract_step(completion)
    if step is None:
        return FORMAT_PENALTY
    got = parse_step(step)
    try:
        want = parse_step(expert_step.strip())
    except StepFormatError:  # an unparsable expert step: fall back to the paper's whole-step score
        return srl_reward(completion, expert_step)
    score = 0.0
    if got.action == want.action:
        score += W_ACTION
        expected = want.args_dict
        have = got.args_dict
        if expected:
            matched = sum(1 for k, v in expected.items() if have.get(k) == v)
            extra = sum(1 for k in have if k not in expected)
            score += W_ARGS * matched / (len(expected) + extra)
        elif not have:
            score += W_ARGS
    if not (prompt and repeats_spoken_line(got.line, prompt)):
        score += W_LINE * step_similarity(got.line, want.line)
    score += W_TITLE * step_similarity(got.title, want.title)
    return score


def paper_reward(completion: str, expert_step: str, prompt: str = "") -> float:
    """The paper's reward (:func:`.srl_step.srl_reward`) in the variants' signature."""
    return srl_reward(completion, expert_step)


def reward_function(name: str, ruleset: "RuleSet | None" = None) -> Callable[[str, str, str], float]:
    """The per-completion reward ``(completion, expert_step, prompt) -> float`` named ``name``;
    ``effect`` (:mod:`.srl_effect`) needs the species' ``ruleset``."""
    if name == "paper":
        return paper_reward
    if name == "decision":
        return decision_reward
    if name in ("effect", "call"):
        if ruleset is None:
            raise ValueError(f"the {name} reward needs the species' rules (the SRL dataset's 'rules')")
        from .srl_effect import effect_reward_for

        return effect_reward_for(ruleset, call_only=name == "call")
    raise ValueError(f"unknown SRL reward {name!r}: one of {', '.join(REWARDS)}")
