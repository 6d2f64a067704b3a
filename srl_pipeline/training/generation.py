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
from .decode import generate_batch
from .menu_constraint import MenuConstraint, cached_on_tokenizer
from .rewards import step_end
from .shared_prefix import plan_shared_prefixes, prefix_cache


@contextmanager
def merged_lora(model: Any, enabled: bool = True, unwrap: bool = True):
    """The LoRA update folded into the base weights while a model in training plays (a
    ``generate`` call, a rollout, a validation play) and taken out after: one matmul per projection
    instead of three while decoding. Same outputs up to float rounding.

    ``unwrap``: while merged, each LoRA layer is also swapped out of the model for the linear layer
    it wraps (which now holds the merged weights), and put back after. A merged PEFT layer only
    calls that linear layer, but its Python checks ran on every projection of every decoded token
    (about 8 % of RLVR's decoding on the built-in tiers); the swap gives the same tokens bit for bit. Inside
    the context the LoRA parameters are not in the module tree: read or save an adapter's weights
    outside it (:class:`.grpo.selection.CheckpointSelection` scores inside and keeps weights after)."""
    merge = enabled and callable(getattr(model, "merge_adapter", None)) and getattr(model, "active_adapters", None)
    if not merge:
        yield
        return
    model.merge_adapter()
    swapped = _swap_in_base_layers(model) if unwrap else []
    try:
        yield
    finally:
        for parent, name, layer in reversed(swapped):
            setattr(parent, name, layer)
        model.unmerge_adapter()


def _swap_in_base_layers(model: Any) -> list[tuple[Any, str, Any]]:
    """Replace every merged PEFT layer by the layer it wraps; (parent, name, PEFT layer) to undo it."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    swapped = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, BaseTunerLayer) and child.merged:
                swapped.append((parent, name, child))
                setattr(parent, name, child.get_base_layer())
    return swapped


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
                   share_prefixes: bool = True, grow_cache: bool = True,
                   drop_finished: bool = True) -> list[tuple[str, list[int]]]:
    """One completion per prompt (greedy, or sampled): its text and token ids, cut after the step.
    ``menu_constrained``: the action call is one of the prompt's menu (:mod:`.menu_constraint`).
    ``share_prefixes``: prompts of a batch that begin alike run their common beginning once
    (:mod:`.shared_prefix`; same completions up to float rounding). ``grow_cache``: decode into a
    cache written in place (:mod:`.kv_cache`; the same completions bit for bit). ``drop_finished``:
    rows that ended their step leave the forward pass (:mod:`.decode`; same completions up to float
    rounding); False decodes with ``model.generate``."""
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    eos_set = set(eos if isinstance(eos, (list, tuple)) else [eos])
    out: list[tuple[str, list[int]]] = []
    try:
        texts = render_prompts(tokenizer, prompts, chat)
        for i in range(0, len(texts), batch_size):
            rows = tokenizer(texts[i:i + batch_size], add_special_tokens=False)["input_ids"]
            layout = plan_shared_prefixes(rows, tokenizer.pad_token_id) if share_prefixes else None
            if layout is None:
                enc = tokenizer.pad({"input_ids": rows}, return_tensors="pt").to(device)
                ids, mask, cache = enc["input_ids"], enc["attention_mask"], None
            else:
                ids, mask = layout.ids.to(device), layout.mask.to(device)
                cache = prefix_cache(model, ids, mask, layout.prefix_width, layout.heads, layout.group_of_row)
            width = ids.size(1)
            gen = generate_batch(model, ids, mask, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=eos, do_sample=do_sample, temperature=temperature, top_p=top_p,
                                 logits_processor=[MenuConstraint(tokenizer, width)] if menu_constrained else [],
                                 stopping_criteria=StoppingCriteriaList([StepEndCriteria(tokenizer, width)]),
                                 cache=cache, grow_cache=grow_cache, drop_finished=drop_finished)
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
