"""Decoding into a cache written in place gives what Hugging Face's concatenating cache gives, bit
for bit; and a merged LoRA swapped out of the model while it plays comes back as it was."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from transformers.cache_utils import DynamicCache, DynamicLayer  # noqa: E402

from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.generation import generate_steps, merged_lora  # noqa: E402
from srl_pipeline.training.kv_cache import GrowingLayer, growing_cache  # noqa: E402

PROMPTS = ["Species: vampire\nLore:\n- " + "the vampire keeps its word to the letter. " * 3 + tail
           for tail in ("Goal: feed.\nMoves now: feed", "Goal: feed.\nMoves now: feed", "Goal: hide.")] + ["Species: lich"]


def test_a_growing_layer_holds_what_the_concatenating_layer_holds():
    g = torch.Generator().manual_seed(0)
    plain, grown = DynamicLayer(), GrowingLayer(headroom=2)
    rows = 3
    for step, width in enumerate([5, 1, 1, 1, 3, 1, 1]):   # a prefill, decoded tokens, past the headroom twice
        k, v = torch.randn(rows, 2, width, 4, generator=g), torch.randn(rows, 2, width, 4, generator=g)
        pk, pv = plain.update(k, v)
        gk, gv = grown.update(k, v)
        assert torch.equal(pk, gk) and torch.equal(pv, gv)
        assert grown.get_seq_length() == plain.get_seq_length()
        if step == 2:                                        # rows dropped or reordered mid-decode
            plain.batch_select_indices(torch.tensor([2, 0]))
            grown.batch_select_indices(torch.tensor([2, 0]))
            rows = 2
    assert grown.keys.data_ptr() == grown._key_buffer.data_ptr()   # the keys are a view of the buffer, not a copy


def test_growing_cache_converts_a_filled_cache_and_keeps_its_contents():
    cache = DynamicCache()
    k = torch.randn(2, 1, 4, 8)
    cache.update(k, k + 1, 0)
    grown = growing_cache(cache)
    assert isinstance(grown.layers[0], GrowingLayer)
    keys, values = grown.update(torch.zeros(2, 1, 1, 8), torch.zeros(2, 1, 1, 8), 0)
    assert torch.equal(keys[:, :, :4], k) and torch.equal(values[:, :, :4], k + 1) and keys.shape[-2] == 5


@pytest.mark.parametrize("share", [True, False])
def test_generate_steps_gives_the_same_tokens_with_the_growing_cache(tiny_model_dir, share):
    model, tok = load_model(str(tiny_model_dir), None, device="cpu")
    runs = {}
    for grow in (False, True):
        greedy = generate_steps(model, tok, PROMPTS, max_new_tokens=40, share_prefixes=share, grow_cache=grow)
        torch.manual_seed(3)
        sampled = generate_steps(model, tok, PROMPTS, max_new_tokens=40, do_sample=True, top_p=0.9,
                                 share_prefixes=share, grow_cache=grow)
        runs[grow] = (greedy, sampled)
    assert runs[True] == runs[False]
    assert any(len(ids) > 1 for _, ids in runs[True][1])


def test_a_merged_lora_swapped_out_plays_the_same_and_comes_back(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    base, tok = load_model(str(tiny_model_dir), None, device="cpu")
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                                            target_modules=["q_proj", "v_proj", "up_proj"]))
    lora_layers = sum(isinstance(m, BaseTunerLayer) for m in model.modules())
    ids = tok(PROMPTS[:1], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        before = model(input_ids=ids).logits
    outs = {}
    for unwrap in (False, True):
        with torch.no_grad(), merged_lora(model, unwrap=unwrap):
            inside = sum(isinstance(m, BaseTunerLayer) for m in model.modules())
            outs[unwrap] = generate_steps(model, tok, PROMPTS, max_new_tokens=30)
        assert inside == (0 if unwrap else lora_layers)
    assert outs[True] == outs[False]
    assert sum(isinstance(m, BaseTunerLayer) for m in model.modules()) == lora_layers   # put back, unmerged
    assert not any(m.merged for m in model.modules() if isinstance(m, BaseTunerLayer))
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, before, atol=1e-6)
