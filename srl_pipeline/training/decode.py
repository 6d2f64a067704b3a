"""Decoding a batch that stops spending work on its finished rows.

Hugging Face's ``generate`` runs every row of a batch until the last one stops: on RLVR's search and
evaluation's sampled plays (64 turns a batch, most ending their step line after ~60 tokens, a few
running on to the 128-token limit) about a third of the rows it decoded were already finished
(``bench/decode_cache.py``). :func:`decode_batch` is the same loop with the finished rows taken out
of the forward pass and the cache; everything the rows see is what ``generate`` gives them:

- the prompt runs once (after the part a passed cache already holds), then one token per step;
  positions come from the attention mask (``cumsum - 1``) and an all-ones mask is dropped, as
  ``generate`` does;
- the logits processors and stopping criteria get the whole batch (``input_ids`` with finished rows
  padded, scores with their logits at 0), so per-row processors (top-p, the menu constraint, the
  seeded group sampler) and ``torch.multinomial`` draw exactly the random numbers ``generate``
  draws: a finished row's draw is made and thrown away, as before;
- a row finishes on an end-of-sequence token, on a stopping criterion, or at ``max_new_tokens``,
  and the result is ``generate``'s: the prompt and the new tokens, finished rows padded.

Same tokens as ``generate`` up to float rounding (the live rows run in a smaller batch; tested to
give the same plays). No Dagster; torch only.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from transformers import LogitsProcessorList, StoppingCriteriaList
from transformers.cache_utils import DynamicCache

from .kv_cache import growing_cache

__all__ = ["decode_batch", "generate_batch"]

# GenerationConfig fields that make ``generate`` add logits processors of its own; a model whose
# generation config sets one (a hub checkpoint's repetition penalty, say) decodes through ``generate``.
_PROCESSOR_FIELDS = ("repetition_penalty", "encoder_repetition_penalty", "no_repeat_ngram_size",
                     "encoder_no_repeat_ngram_size", "bad_words_ids", "min_length", "min_new_tokens",
                     "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
                     "begin_suppress_tokens", "sequence_bias", "renormalize_logits", "guidance_scale",
                     "watermarking_config", "top_k", "typical_p", "epsilon_cutoff", "eta_cutoff", "min_p", "top_h")


def _adds_processors(model: Any) -> bool:
    """Whether ``generate`` would add processors beyond temperature and top-p for this model."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return False
    if getattr(config, "forced_bos_token_id", None) is not None or getattr(config, "forced_eos_token_id", None) is not None:
        return True
    neutral = (None, False, 0, 1.0, [], {})
    return any(getattr(config, field, None) not in neutral for field in _PROCESSOR_FIELDS)


def generate_batch(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
                   pad_token_id: int, eos_token_id: int | Sequence[int] | None, do_sample: bool = False,
                   temperature: float | None = None, top_p: float | None = None,
                   logits_processor: LogitsProcessorList | None = None,
                   stopping_criteria: StoppingCriteriaList | None = None, cache: Any = None,
                   grow_cache: bool = True, drop_finished: bool = True) -> torch.Tensor:
    """``model.generate`` for a batch (greedy, or sampled at ``temperature`` / ``top_p`` after the
    given processors, in ``generate``'s order), through :func:`decode_batch` when ``drop_finished``
    and the model's generation config adds no processors of its own, else through ``generate``.
    ``cache`` may hold the first columns already (a shared prefix's); ``grow_cache``: decode into a
    cache written in place (:mod:`.kv_cache`), ``cache``'s layers or new ones."""
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper

    if grow_cache:
        cache = growing_cache(cache if cache is not None else DynamicCache(config=model.config))
    processors = LogitsProcessorList(logits_processor or [])
    stops = stopping_criteria if stopping_criteria is not None else StoppingCriteriaList()
    if not drop_finished or _adds_processors(model):
        sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=None) if do_sample else \
            dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        extra = {"cache": cache} if cache is not None else {}
        return model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                              pad_token_id=pad_token_id, eos_token_id=eos_token_id, stopping_criteria=stops,
                              logits_processor=processors, **sampling, **extra)
    if do_sample:   # generate's warpers, after the caller's processors
        if temperature is not None and temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_p is not None and top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p))
    return decode_batch(model, input_ids, attention_mask, max_new_tokens=max_new_tokens, pad_token_id=pad_token_id,
                        eos_token_id=eos_token_id, do_sample=do_sample, logits_processor=processors,
                        stopping_criteria=stops, cache=cache)


@torch.no_grad()
def decode_batch(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
                 pad_token_id: int, eos_token_id: int | Sequence[int] | None, do_sample: bool = False,
                 logits_processor: LogitsProcessorList | None = None,
                 stopping_criteria: StoppingCriteriaList | None = None, cache: Any = None) -> torch.Tensor:
    """``input_ids`` (left-padded, ``attention_mask`` 1 on real tokens) continued by up to
    ``max_new_tokens`` tokens, greedy or sampled from the processed scores; ``cache`` may hold the
    first columns already (a shared prefix's). Returns ``(rows, width + new)`` token ids."""
    processors = logits_processor if logits_processor is not None else LogitsProcessorList()
    stops = stopping_criteria if stopping_criteria is not None else StoppingCriteriaList()
    eos = torch.tensor(sorted({eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id or ())),
                       dtype=torch.long, device=input_ids.device)
    cache = growing_cache(DynamicCache(config=model.config)) if cache is None else cache
    rows = input_ids.size(0)
    mask = attention_mask.long()
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    keep_mask = not bool((mask == 1).all())          # generate drops an all-ones mask
    cached = cache.get_seq_length()
    sequences = input_ids
    unfinished = torch.ones(rows, dtype=torch.bool, device=input_ids.device)
    live = torch.arange(rows, device=input_ids.device)   # the rows in the forward pass and the cache
    out = model(input_ids=input_ids[:, cached:], attention_mask=mask if keep_mask else None,
                position_ids=positions[:, cached:], cache=cache, use_cache=True, logits_to_keep=1)
    for step in range(max_new_tokens):
        logits = out.logits[:, -1].to(dtype=torch.float32)
        del out
        if live.numel() < rows:
            full = logits.new_zeros((rows, logits.size(-1)))
            full[live] = logits
            logits = full
        scores = processors(sequences, logits)
        if do_sample:
            chosen = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
        else:
            chosen = torch.argmax(scores, dim=-1)
        chosen = torch.where(unfinished, chosen, torch.full_like(chosen, pad_token_id))
        sequences = torch.cat([sequences, chosen[:, None]], dim=-1)
        done = stops(sequences, None) if len(stops) else torch.zeros_like(unfinished)
        if eos.numel():
            done = done | torch.isin(chosen, eos)
        unfinished = unfinished & ~done
        if step + 1 == max_new_tokens or not bool(unfinished.any()):
            break
        mask = torch.cat([mask, mask.new_ones((rows, 1))], dim=-1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=-1)
        still = unfinished[live]
        if not bool(still.all()):
            cache.batch_select_indices(still.nonzero().squeeze(1))
            live = live[still]
        out = model(input_ids=chosen[live][:, None], attention_mask=mask[live] if keep_mask else None,
                    position_ids=positions[live][:, -1:], cache=cache, use_cache=True, logits_to_keep=1)
    return sequences
