"""The SRL step reward (arXiv 2510.25992, DESIGN.md §5): how close the model's next step is to the expert's.

A completion is the model's reasoning, the closing tag, then exactly one step::

    <think>The mortal is curious; courtesy first.</think>
    2. **Speak of old wars** converse(topic=old_wars) | "My brother fell at the river crossing."

Format (anything else scores ``FORMAT_PENALTY`` = -1):

- ``</think>`` appears **exactly once**. The opening ``<think>`` is optional: a prompt may end
  with it (so the completion starts inside the reasoning), and the reward never reads the
  reasoning anyway. A second ``</think>`` is a broken format, not "take the last one".
- The text after ``</think>``, with surrounding whitespace stripped, is **one** non-empty line
  (blank lines around it are ignored; two non-empty lines are two steps, so -1).
- That line parses with :func:`srl_pipeline.game.steps.parse_step` (number, bold title, action
  call, ``| "line"``). Whether the action is legal is the simulator's business (RLVR), not SRL's.

Score otherwise: difflib ``SequenceMatcher`` ratio 2M/T in [0, 1] between the model's step and the
expert's step (both stripped), over the step text only: the think text never enters it.

Two details of ``SequenceMatcher`` are fixed so the reward is a function of the *pair* of steps:

- ``autojunk=False``. With the default ``autojunk=True``, when the second sequence is 200
  characters or longer every character making up more than 1% of it (spaces, ``e``, ``_``...) is
  treated as junk and cannot start a match. Long steps (a long in-character line) would then score
  much lower than short ones for the same edit, and since only the second sequence is filtered the
  result depends on argument order.
- Canonical argument order. Even with ``autojunk=False`` the ratio is not symmetric: the matching
  blocks come from a greedy longest-match with ties broken by position in the *first* sequence,
  so swapping the arguments can change M. Example: ``ratio("ab", "bacbc") = 2*2/7`` (matches
  ``a`` then ``b``) but ``ratio("bacbc", "ab") = 2*1/7`` (matches ``b`` first, nothing after).
  :func:`step_similarity` therefore always passes the lexicographically smaller string first
  (``sorted`` pair). Any fixed order would do; sorting makes the value independent of which side
  is "model" and which is "expert", so ``step_similarity(a, b) == step_similarity(b, a)``
  exactly, and identical steps score 1.0.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Iterable

from ...game.steps import StepFormatError, parse_step

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
FORMAT_PENALTY = -1.0

__all__ = [
    "FORMAT_PENALTY", "THINK_CLOSE", "THINK_OPEN", "extract_step", "format_ok", "srl_reward",
    "srl_rewards", "step_end", "step_similarity", "truncate_after_step",
]


def step_end(text: str) -> int | None:
    """Where generation should stop: the index just past the newline that ends the first non-empty
    line after the first ``</think>``, or None while that line is not finished yet.

    Generation stops there (a stop sequence, as a serving engine would apply it): whatever a model
    writes after its one step is not part of its answer. The reward still enforces the format on
    what is kept (a second ``</think>`` or an unparsable line still scores -1)."""
    close = text.find(THINK_CLOSE)
    if close < 0:
        return None
    pos = close + len(THINK_CLOSE)
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return None
        if text[pos:nl].strip():
            return nl + 1
        pos = nl + 1


def truncate_after_step(text: str) -> str:
    """``text`` up to the end of its first step line (see :func:`step_end`); unchanged if none."""
    end = step_end(text)
    return text if end is None else text[:end]


def extract_step(completion: str) -> str | None:
    """The step the completion writes after ``</think>`` (stripped), or None when the format is
    broken: ``</think>`` missing or repeated, nothing after it, more than one non-empty line, or a
    line that does not parse as a step."""
    if completion.count(THINK_CLOSE) != 1:
        return None
    after = completion.split(THINK_CLOSE, 1)[1].strip()
    if not after:
        return None
    lines = [ln.strip() for ln in after.splitlines() if ln.strip()]
    if len(lines) != 1:
        return None
    step = lines[0]
    try:
        parse_step(step)
    except StepFormatError:
        return None
    return step


def format_ok(completion: str) -> bool:
    """True when :func:`srl_reward` would score the completion (not the -1 penalty)."""
    return extract_step(completion) is not None


def step_similarity(a: str, b: str) -> float:
    """``SequenceMatcher`` ratio 2M/T of two steps, symmetric: ``autojunk=False`` and the
    lexicographically smaller string always first (see the module docstring)."""
    first, second = sorted((a.strip(), b.strip()))
    return SequenceMatcher(None, first, second, autojunk=False).ratio()


def srl_reward(completion: str, expert_step: str) -> float:
    """-1 for a broken format, else the similarity in [0, 1] of the written step to the expert's."""
    step = extract_step(completion)
    if step is None:
        return FORMAT_PENALTY
    return step_similarity(step, expert_step)


def srl_rewards(completions: Iterable[str], expert_steps: Iterable[str]) -> list[float]:
    """Batch form (one expert step per completion), e.g. for a GRPO reward function."""
    completions, expert_steps = list(completions), list(expert_steps)
    if len(completions) != len(expert_steps):
        raise ValueError(f"{len(completions)} completions but {len(expert_steps)} expert steps")
    return [srl_reward(c, e) for c, e in zip(completions, expert_steps)]
