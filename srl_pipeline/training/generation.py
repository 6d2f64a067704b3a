"""Generating one step: stop at the end of the step line, as a serving engine's stop sequence would.

A completion is ``<think>...</think>`` then one step line. Tiny models (and big ones) often run on
after the step; everything after the newline that ends the step is not part of the answer, so
generation stops there (:class:`StepEndCriteria`) and any tail a batch still produced is cut
(:func:`cut_after_step`). Used by SRL training (through :func:`add_step_stop` on the policy),
by validation, by full-plan rollouts and by evaluation, so all of them read the same answer.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Sequence

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from ..core.turn_budget import TURN_TOKENS
from .menu_constraint import MenuConstraint, cached_on_tokenizer
from .rewards import step_end
from .shared_prefix import plan_shared_prefixes, prefix_cache


@contextmanager
def merged_lora(model: Any, enabled: bool = True):
    """The LoRA update folded into the base weights while a model in training plays (a
    ``generate`` call, a rollout, a validation play) and taken out after: one matmul per projection
    instead of three while decoding. Same outputs up to float rounding."""
    merge = enabled and callable(getattr(model, "merge_adapter", None)) and getattr(model, "active_adapters", None)
    if not merge:
        yield
        return
    model.merge_adapter()
    try:
        yield
    finally:
        model.unmerge_adapter()


def _newline_token_ids(tokenizer: Any) -> frozenset[int]:
    return cached_on_tokenizer(tokenizer, "_srl_newline_ids", lambda tok: frozenset(
        i for i in tok.get_vocab().values() if "\n" in tok.decode([i])))


class StepEndCriteria(StoppingCriteria):
    """Per sequence: done once the generated text holds a finished step line after ``</think>``.
    Only decodes a sequence when its newest token contains a newline. ``starts`` (per row) moves
    the start of a row's completion before ``prompt_length`` when the input already holds the
    beginning of the completion (a forced prefix, :mod:`.grpo.menu_groups`)."""

    def __init__(self, tokenizer: Any, prompt_length: int, starts: Sequence[int] | None = None):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.starts = list(starts) if starts is not None else None  # per row: where its completion begins
        self.newline_ids = _newline_token_ids(tokenizer)

    def __call__(self, input_ids: torch.LongTensor, scores: Any = None, **kwargs: Any) -> torch.BoolTensor:
        done = torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
        if input_ids.size(1) <= self.prompt_length:
            return done
        last = input_ids[:, -1].tolist()
        for row, tok in enumerate(last):
            if tok in self.newline_ids:
                start = self.starts[row] if self.starts is not None else self.prompt_length
                text = self.tokenizer.decode(input_ids[row, start:], skip_special_tokens=True)
                done[row] = step_end(text) is not None
        return done


class SeededGroupSampling(LogitsProcessor):
    """Sampling in one batched ``generate`` call where every group of rows draws from its own
    seeded generator, so a group's samples do not depend on which other groups share the batch
    (one process or several, one call or one per group).

    The warped scores (temperature, then top-k / top-p as Hugging Face orders its warpers) plus
    Gumbel noise: their argmax, which greedy decoding takes, is an exact sample of the softmax of
    the warped scores (the Gumbel-max trick), drawn from the row's group generator."""

    def __init__(self, seeds: Sequence[int], group_size: int, temperature: float = 1.0, top_p: float | None = None,
                 top_k: int | None = None, device: Any = "cpu"):
        from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        self.group_size = group_size
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.warpers: list[Any] = []
        if temperature and temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k))
        if top_p is not None and top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float()
        for warp in self.warpers:
            scores = warp(input_ids, scores)
        G = self.group_size
        uniform = torch.cat([torch.rand((G, scores.size(1)), generator=g, device=scores.device)
                             for g in self.generators], dim=0)
        gumbel = -torch.log(-torch.log(uniform.clamp_(1e-20, 1.0 - 1e-7)))
        return scores + gumbel


def cut_after_step(ids: Sequence[int], tokenizer: Any) -> list[int]:
    """The completion's token ids up to (and including) the token that ends its step line;
    unchanged when the step line never ends (truncated by the length limit)."""
    ids = list(ids)
    newline_ids = _newline_token_ids(tokenizer)
    for i, tok in enumerate(ids):
        if tok in newline_ids and step_end(tokenizer.decode(ids[: i + 1], skip_special_tokens=True)) is not None:
            return ids[: i + 1]
    return ids


def add_step_stop(model: Any, tokenizer: Any, stop: bool = True, menu_constrained: bool = False) -> None:
    """Make ``model.generate`` stop each sequence at the end of its step line (``stop``) and keep
    its action call on the prompt's menu (``menu_constrained``, :mod:`.menu_constraint`).

    TRL's GRPOTrainer calls ``model.generate(**inputs, generation_config=...)`` and offers no way
    to pass stopping criteria or logits processors, so they are attached to this model instance's
    ``generate`` (an explicit ``stopping_criteria`` / ``logits_processor`` argument still wins)."""
    original = model.generate

    def generate(*args: Any, **kwargs: Any):
        if "input_ids" in kwargs:
            width = kwargs["input_ids"].size(1)
            if stop and "stopping_criteria" not in kwargs:
                kwargs["stopping_criteria"] = StoppingCriteriaList([StepEndCriteria(tokenizer, width)])
            if menu_constrained and "logits_processor" not in kwargs:
                kwargs["logits_processor"] = LogitsProcessorList([MenuConstraint(tokenizer, width)])
        return original(*args, **kwargs)

    model.generate = generate


def render_prompts(tokenizer: Any, prompts: Sequence[str], chat: bool) -> list[str]:
    if not chat:
        return list(prompts)
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]


@torch.no_grad()
def generate_steps(model: Any, tokenizer: Any, prompts: Sequence[str], *, do_sample: bool = False,
                   temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = TURN_TOKENS, batch_size: int = 16,
                   chat: bool = False, menu_constrained: bool = False,
                   share_prefixes: bool = True) -> list[tuple[str, list[int]]]:
    """One completion per prompt (greedy, or sampled): its text and token ids, cut after the step.
    ``menu_constrained``: the action call is one of the prompt's menu (:mod:`.menu_constraint`).
    ``share_prefixes``: prompts of a batch that begin alike run their common beginning once
    (:mod:`.shared_prefix`; same completions up to float rounding)."""
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    eos_set = set(eos if isinstance(eos, (list, tuple)) else [eos])
    sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=None) if do_sample else \
        dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    out: list[tuple[str, list[int]]] = []
    try:
        texts = render_prompts(tokenizer, prompts, chat)
        for i in range(0, len(texts), batch_size):
            rows = tokenizer(texts[i:i + batch_size], add_special_tokens=False)["input_ids"]
            layout = plan_shared_prefixes(rows, tokenizer.pad_token_id) if share_prefixes else None
            if layout is None:
                enc = tokenizer.pad({"input_ids": rows}, return_tensors="pt").to(device)
                ids, mask, extra = enc["input_ids"], enc["attention_mask"], {}
            else:
                ids, mask = layout.ids.to(device), layout.mask.to(device)
                extra = {"cache": prefix_cache(model, ids, mask, layout.prefix_width, layout.heads,
                                               layout.group_of_row)}
            width = ids.size(1)
            processors = LogitsProcessorList([MenuConstraint(tokenizer, width)] if menu_constrained else [])
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=eos,
                                 stopping_criteria=StoppingCriteriaList([StepEndCriteria(tokenizer, width)]),
                                 logits_processor=processors, **sampling, **extra)
            for row in gen[:, width:].tolist():
                for j, tok in enumerate(row):
                    if tok in eos_set:
                        row = row[:j]
                        break
                ids = cut_after_step(row, tokenizer)
                out.append((tokenizer.decode(ids, skip_special_tokens=True), ids))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out
