"""Prompts that begin alike run their common beginning once: the two-block layout keeps every row's
tokens in order, the prefix cache gives the logits the plain layout gives, and ``generate_steps``
returns the same completions with and without it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.generation import generate_steps  # noqa: E402
from srl_pipeline.training.shared_prefix import mask_positions, plan_shared_prefixes, prefix_cache  # noqa: E402

PAD = 1
LORE = list(range(100, 160))          # 60 tokens two scenarios' prompts begin with


def test_rows_that_begin_alike_share_one_prefix_block_and_keep_their_tokens():
    a = LORE + [7, 8, 9]
    rows = [a, a, LORE + [7, 5], LORE + [3, 3, 3, 3, 3], list(range(200, 240))]
    layout = plan_shared_prefixes(rows, PAD)
    assert layout is not None
    for r, row in enumerate(rows):   # the real tokens of every row, in order, across both blocks
        assert layout.ids[r][layout.mask[r] == 1].tolist() == row
        assert layout.mask[r, layout.prefix_width:].sum() >= 1   # generate needs an uncached last token
    groups = layout.group_of_row.tolist()
    assert groups[0] == groups[1] == groups[2] == groups[3] != groups[4]
    assert len(layout.heads) == 2
    head = layout.heads[groups[0]]
    for r in range(4):   # the group's rows have the same prefix block as its head
        assert torch.equal(layout.ids[r, :layout.prefix_width], layout.ids[head, :layout.prefix_width])
    assert layout.shared_tokens == 3 * len(LORE)   # the lore, run once instead of four times


def test_nothing_shared_or_too_little_saved_keeps_the_plain_layout():
    assert plan_shared_prefixes([list(range(10, 80)), list(range(20, 90))], PAD) is None   # no common beginning
    assert plan_shared_prefixes([LORE[:40] + [1] * 200, LORE[:40] + [2] * 200], PAD) is None  # 40 of 240: too little
    assert plan_shared_prefixes([LORE], PAD) is None


def test_the_prefix_cache_gives_the_plain_layouts_logits(tiny_model_dir):
    model, tok = load_model(str(tiny_model_dir), None, device="cpu")
    model.eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    lore = torch.randint(3, vocab, (50,), generator=g).tolist()
    rows = [lore + torch.randint(3, vocab, (n,), generator=g).tolist() for n in (3, 9, 1)] + [lore[:45]]
    layout = plan_shared_prefixes(rows, tok.pad_token_id)
    assert layout is not None and layout.prefix_width > 0
    with torch.no_grad():
        cache = prefix_cache(model, layout.ids, layout.mask, layout.prefix_width, layout.heads, layout.group_of_row)
        positions = mask_positions(layout.mask)
        shared = model(input_ids=layout.ids[:, layout.prefix_width:], attention_mask=layout.mask,
                       position_ids=positions[:, layout.prefix_width:], cache=cache).logits[:, -1]
        plain = torch.stack([model(input_ids=torch.tensor([row])).logits[0, -1] for row in rows])
    assert torch.allclose(shared, plain, atol=1e-4), (shared - plain).abs().max()


def test_generate_steps_gives_the_same_completions_with_the_shared_prefix(tiny_model_dir):
    model, tok = load_model(str(tiny_model_dir), None, device="cpu")
    lore = "Species: vampire\nLore:\n- " + "the vampire keeps its word to the letter and expects the same. " * 3
    prompts = [lore + tail for tail in ("Goal: feed.\nMoves now: feed", "Goal: feed.\nMoves now: feed",
                                        "Goal: bargain.\nMoves now: offer", "Goal: hide.")] + ["Species: lich"]
    runs = {}
    for share in (False, True):
        greedy = generate_steps(model, tok, prompts, max_new_tokens=12, share_prefixes=share)
        torch.manual_seed(3)
        sampled = generate_steps(model, tok, prompts, max_new_tokens=12, do_sample=True, share_prefixes=share)
        runs[share] = (greedy, sampled)
    assert plan_shared_prefixes(tok(prompts, add_special_tokens=False)["input_ids"], tok.pad_token_id) is not None
    assert runs[True] == runs[False]
    assert runs[True][0][0] == runs[True][0][1]                    # greedy: one prompt, one answer
