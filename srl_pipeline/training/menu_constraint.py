"""Menu-constrained decoding: the NPC's action call is one of the calls the game offers.

A game engine never executes a move it does not offer, and serving engines constrain tool calls to
a schema (structured outputs); this is that constraint for the turn contract's ``Moves now:``
menu (:mod:`srl_pipeline.game.turn`). While a completion writes its step's call (after the
title's closing ``**``, up to the `` |`` before the line), every token that would leave all the
menu's calls is masked; the think, the title and the line stay free. The rules, the goals and
the plans are unchanged: a model still has to choose the move that reaches the goal, and a menu
of one move is no easier than before (the random legal policy plays under the same menu).

A row whose text already left the menu before the call began (e.g. a token that spans the
title's end and an off-menu action) is left unconstrained, so the constraint never invents
text; the simulator then judges it as before.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence, TypeVar

import torch
from transformers import LogitsProcessor

from ..game.turn import menu_calls

T = TypeVar("T")

__all__ = ["MenuConstraint", "cached_on_tokenizer", "call_targets"]

# After "</think>": optional blank, "N. **Title**" (the call follows the closing "**").
_TITLE_DONE = re.compile(r"</think>\s*\d+\.\s\*\*[^*\n]+\*\*")
_CALL_END = " |"


def call_targets(prompt: str) -> list[str]:
    """What may follow the title's closing ``**``: `` <call> |`` for each call of the menu."""
    return [f" {call}{_CALL_END}" for call in menu_calls(prompt)]


class _Vocabulary:
    """Each token's surface text (byte-level BPE decodes token by token), grouped by text."""

    def __init__(self, tokenizer: Any):
        self.by_text: dict[str, list[int]] = {}
        for i in range(len(tokenizer)):
            self.by_text.setdefault(tokenizer.decode([i]), []).append(i)
        self.longest = max((len(t) for t in self.by_text), default=0)


def cached_on_tokenizer(tokenizer: Any, name: str, build: Callable[[Any], T]) -> T:
    """``build(tokenizer)`` once per tokenizer: what is derived from a whole vocabulary (thousands of
    decodes) is kept on the tokenizer as attribute ``name`` (rebuilt each call for a slotted one)."""
    cached = getattr(tokenizer, name, None)
    if cached is None:
        cached = build(tokenizer)
        try:
            setattr(tokenizer, name, cached)
        except AttributeError:  # pragma: no cover - slotted tokenizers
            pass
    return cached


def _vocabulary(tokenizer: Any) -> _Vocabulary:
    return cached_on_tokenizer(tokenizer, "_srl_menu_vocab", _Vocabulary)


class MenuConstraint(LogitsProcessor):
    """Mask the tokens that would take a row's action call off its prompt's menu."""

    def __init__(self, tokenizer: Any, prompt_length: int, targets: Sequence[Sequence[str]] | None = None,
                 starts: Sequence[int] | None = None):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.vocab = _vocabulary(tokenizer)
        # per row: the calls it may write (default: its prompt's menu, :func:`call_targets`) and where
        # its completion begins (default: ``prompt_length``; earlier when the input holds a forced prefix)
        self._targets: list[list[str]] | None = [list(t) for t in targets] if targets is not None else None
        self.starts = list(starts) if starts is not None else None

    def _row_targets(self, input_ids: torch.LongTensor) -> list[list[str]]:
        if self._targets is None:
            prompts = self.tokenizer.batch_decode(input_ids[:, : self.prompt_length], skip_special_tokens=True)
            self._targets = [call_targets(p) for p in prompts]
        return self._targets

    def allowed(self, call_so_far: str, targets: Sequence[str]) -> list[int] | None:
        """Token ids that keep ``call_so_far`` on a target; None when it has left every target
        or already completed one (nothing to constrain)."""
        live = [t for t in targets if t.startswith(call_so_far)]
        if not live or any(call_so_far.startswith(t) for t in targets):
            return None
        ids: set[int] = set()
        for t in live:
            rest = t[len(call_so_far):]
            for k in range(1, min(len(rest), self.vocab.longest) + 1):
                ids.update(self.vocab.by_text.get(rest[:k], ()))
            if len(rest) <= 2:  # a token that finishes the call and runs on into the line (`` |"``)
                for text, tok in self.vocab.by_text.items():
                    if len(text) > len(rest) and text.startswith(rest):
                        ids.update(tok)
        return sorted(ids) or None   # no token spells the rest: leave the row free rather than mask it all

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.starts is None and input_ids.size(1) <= self.prompt_length:
            return scores
        targets = self._row_targets(input_ids)
        if self.starts is None:
            texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:], skip_special_tokens=True)
        else:
            texts = [self.tokenizer.decode(input_ids[row, start:], skip_special_tokens=True)
                     for row, start in enumerate(self.starts)]
        for row, text in enumerate(texts):
            if not targets[row] or "</think>" not in text:
                continue
            m = _TITLE_DONE.search(text)
            if m is None:
                continue
            ids = self.allowed(text[m.end():], targets[row])
            if ids is None:
                continue
            keep = scores[row, ids].clone()
            scores[row] = float("-inf")
            scores[row, ids] = keep
        return scores
