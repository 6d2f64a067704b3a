"""The decode loop that drops finished rows gives ``generate``'s tokens: greedy and sampled (the same
random numbers drawn), with the caller's processors and stopping criteria, from a shared prefix's
cache or from nothing, with and without padding."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from transformers import LogitsProcessorList, StoppingCriteriaList  # noqa: E402
from transformers.cache_utils import DynamicCache  # noqa: E402

from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.decode import decode_batch, generate_batch  # noqa: E402
from srl_pipeline.training.generation import SeededGroupSampling, StepEndCriteria, generate_steps  # noqa: E402
from srl_pipeline.training.kv_cache import growing_cache  # noqa: E402
from srl_pipeline.training.shared_prefix import plan_shared_prefixes, prefix_cache  # noqa: E402

LORE = "Species: vampire\nLore:\n- " + "the vampire keeps its word to the letter and expects the same. " * 3
PROMPTS = [LORE + tail for tail in ("Goal: feed.\nMoves now: feed", "Goal: feed.\nMoves now: feed",
                                    "Goal: bargain.\nMoves now: offer", "Goal: hide.")] + ["Species: lich"]


class EndsOnToken:
    """A stopping criterion on a token id: rows finish at different steps."""

    def __init__(self, token: int):
        self.token = token

    def __call__(self, input_ids, scores=None, **kwargs):
        return input_ids[:, -1] == self.token


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    model, tok = load_model(str(tiny_model_dir), None, device="cpu")
    return model, tok


def _batch(tok, prompts):
    side, tok.padding_side = tok.padding_side, "left"
    try:
        enc = tok(prompts, add_special_tokens=False, padding=True, return_tensors="pt")
    finally:
        tok.padding_side = side
    return enc["input_ids"], enc["attention_mask"]


@pytest.mark.parametrize("sampled", [False, True])
@pytest.mark.parametrize("prompts", [PROMPTS, [PROMPTS[0]] * 3], ids=["padded", "all-ones mask"])
def test_the_loop_gives_generates_tokens(tiny, sampled, prompts):
    model, tok = tiny
    ids, mask = _batch(tok, prompts)
    runs = {}
    for drop in (False, True):
        torch.manual_seed(5)
        # a frequent token as a stop: rows end at different steps, some well before the limit
        stops = StoppingCriteriaList([EndsOnToken(int(ids[0, -1]))])
        runs[drop] = generate_batch(model, ids, mask, max_new_tokens=40, pad_token_id=tok.pad_token_id,
                                    eos_token_id=tok.eos_token_id, do_sample=sampled, temperature=0.8, top_p=0.9,
                                    stopping_criteria=stops, drop_finished=drop)
        after = torch.rand(4)      # the random stream after decoding
        runs[drop] = (runs[drop], after)
    assert torch.equal(runs[True][0], runs[False][0])
    assert torch.equal(runs[True][1], runs[False][1])


def test_from_a_shared_prefix_cache_with_a_group_sampler(tiny):
    """The GRPO stage's path: a prefix cache, per-group seeded sampling, a step-end stop."""
    model, tok = tiny
    rows = tok(PROMPTS[:4], add_special_tokens=False)["input_ids"]
    layout = plan_shared_prefixes(rows, tok.pad_token_id)
    assert layout is not None
    width = layout.ids.size(1)
    outs = []
    for drop in (False, True):
        cache = prefix_cache(model, layout.ids, layout.mask, layout.prefix_width, layout.heads, layout.group_of_row)
        processors = LogitsProcessorList([SeededGroupSampling([11, 12], 2, temperature=1.0, top_p=0.9)])
        outs.append(generate_batch(model, layout.ids, layout.mask, max_new_tokens=30, pad_token_id=tok.pad_token_id,
                                   eos_token_id=tok.eos_token_id, logits_processor=processors,
                                   stopping_criteria=StoppingCriteriaList([StepEndCriteria(tok, width)]),
                                   cache=growing_cache(cache), drop_finished=drop))
    assert torch.equal(outs[0], outs[1])


def test_finished_rows_leave_the_forward_pass(tiny):
    model, tok = tiny
    ids, mask = _batch(tok, PROMPTS)
    seen = []
    hook = model.model.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(kwargs["input_ids"].size(0)),
                                                 with_kwargs=True)
    try:
        out = decode_batch(model, ids, mask, max_new_tokens=40, pad_token_id=tok.pad_token_id, eos_token_id=None,
                           stopping_criteria=StoppingCriteriaList([EndsOnToken(int(ids[0, -1]))]),
                           cache=growing_cache(DynamicCache(config=model.config)))
    finally:
        hook.remove()
    assert seen[0] == len(PROMPTS)
    assert seen == sorted(seen, reverse=True)            # rows only ever leave
    finished_early = (out[:, -1] == tok.pad_token_id).sum().item()   # padded at the end: stopped before the last step
    assert finished_early > 0 and min(seen) <= len(PROMPTS) - finished_early


def test_generate_steps_plays_the_same_with_either_loop(tiny):
    model, tok = tiny
    runs = {}
    for drop in (False, True):
        greedy = generate_steps(model, tok, PROMPTS, max_new_tokens=40, drop_finished=drop)
        torch.manual_seed(3)
        sampled = generate_steps(model, tok, PROMPTS, max_new_tokens=40, do_sample=True, top_p=0.9,
                                 menu_constrained=True, drop_finished=drop)
        runs[drop] = (greedy, sampled)
    assert runs[True] == runs[False]
