"""A key/value cache for decoding that writes each new token in place instead of copying the cache.

Hugging Face's ``DynamicLayer`` appends a decoded token with ``torch.cat``: every step copies the
whole cache of every layer, so a turn of ``n`` new tokens after a prompt of ``p`` costs about
``n * (p + n)`` copied positions per layer. On the built-in CPU tiers the copies were about a tenth
of a decode's time (RLVR's search and evaluation's plays: prompts of ~430 tokens, turns of ~60).
:class:`GrowingLayer` keeps the keys and values in a buffer with headroom and hands attention a view
of its filled part; the buffer grows (one copy) only when the headroom runs out. Attention reads the
same numbers in the same order, so decoding gives the same tokens (tested bit for bit).

Used for generation only (``generate`` under ``torch.no_grad``): the training log-prob passes keep
the plain layer, whose concatenation autograd differentiates directly.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

HEADROOM = 128   # positions added past what is needed when the buffer grows: one turn's tokens (TURN_TOKENS)


class GrowingLayer(DynamicLayer):
    """A ``DynamicLayer`` whose ``keys`` / ``values`` are views of a larger buffer."""

    def __init__(self, headroom: int = HEADROOM):
        super().__init__()
        self.headroom = headroom
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def _grow(self, filled: int, new_positions: int, like: torch.Tensor) -> None:
        """A buffer for the ``filled`` cached positions plus ``new_positions`` plus the headroom, holding them."""
        shape = list(like.shape)
        shape[-2] = filled + new_positions + self.headroom
        keys, values = like.new_empty(shape), like.new_empty(shape)
        if filled:
            keys[..., :filled, :] = self.keys
            values[..., :filled, :] = self.values
        self._key_buffer, self._value_buffer = keys, values

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        filled, new = self.get_seq_length(), key_states.shape[-2]   # the cached positions: keys' length
        buffer = self._key_buffer
        if (buffer is None or filled + new > buffer.shape[-2] or buffer.shape[:2] != key_states.shape[:2]
                or buffer.dtype != key_states.dtype):
            self._grow(filled, new, key_states)
        end = filled + new
        self._key_buffer[..., filled:end, :] = key_states
        self._value_buffer[..., filled:end, :] = value_states
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values

    def _forget_buffer(self) -> None:
        """After an operation that replaced ``keys`` / ``values``: the next update starts a buffer from them."""
        self._key_buffer = self._value_buffer = None

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        super().batch_select_indices(indices)
        self._forget_buffer()

    def batch_repeat_interleave(self, repeats: int) -> None:
        super().batch_repeat_interleave(repeats)
        self._forget_buffer()

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(beam_idx)
        self._forget_buffer()

    def crop(self, tokens_to_remove: int) -> None:
        super().crop(tokens_to_remove)
        self._forget_buffer()

    def reset(self) -> None:
        super().reset()
        self._forget_buffer()


def growing_cache(cache: DynamicCache, headroom: int = HEADROOM) -> DynamicCache:
    """``cache`` with every plain ``DynamicLayer`` made a :class:`GrowingLayer` holding the same keys
    and values (a shared prefix's cache, or an empty ``DynamicCache(config=model.config)``). A layer
    of another kind (sliding window, linear attention) is left as it is."""
    for i, layer in enumerate(cache.layers):
        if type(layer) is not DynamicLayer:
            continue
        grown = GrowingLayer(headroom)
        if layer.is_initialized:
            grown.lazy_initialization(layer.keys, layer.values)
            grown.keys, grown.values = layer.keys, layer.values
        cache.layers[i] = grown
    return cache
