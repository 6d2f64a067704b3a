"""Menu-constrained decoding keeps the action call on the prompt's menu, whatever the model prefers."""

from __future__ import annotations

import pytest
import torch

from srl_pipeline.training.menu_constraint import MenuConstraint, call_targets

MENU = "converse(topic=old_wars|the_night); move(to=castle); feed(target=player, how=slow|fast)"
PROMPT = f"Species: vampire\nGoal: g\nSteps so far:\n(none yet)\nMoves now: {MENU}"
CALLS = {"converse(topic=old_wars)", "converse(topic=the_night)", "move(to=castle)",
         "feed(target=player, how=slow)", "feed(target=player, how=fast)"}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _decode_call(tokenizer, seed: int, prefix: str = "<think>x</think>\n1. **Title**") -> str:
    """Greedy decoding under the constraint with adversarial (random) logits, until the call ends."""
    prompt_ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + tokenizer(prefix, add_special_tokens=False)["input_ids"]
    constraint = MenuConstraint(tokenizer, len(prompt_ids))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(40):
        scores = torch.randn(1, len(tokenizer), generator=gen)
        scores = constraint(torch.tensor([ids]), scores)
        ids.append(int(scores.argmax()))
        text = tokenizer.decode(ids[len(prompt_ids):])
        if " |" in text.split("**", 2)[2]:
            break
    return tokenizer.decode(ids[len(prompt_ids):]).split("**", 2)[2].split(" |", 1)[0].strip()


def test_every_call_it_lets_through_is_on_the_menu(tokenizer):
    assert {t.strip()[:-2] for t in call_targets(PROMPT)} == CALLS
    seen = {_decode_call(tokenizer, seed) for seed in range(25)}
    assert seen <= CALLS
    assert len(seen) >= 3  # random logits pick different calls: the constraint masks, it does not choose


def test_the_think_and_title_stay_free_and_an_off_menu_start_is_left_alone(tokenizer):
    prompt_ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    constraint = MenuConstraint(tokenizer, len(prompt_ids))
    for prefix in ("<think>I will", "<think>x</think>\n1. **Ti", "<think>x</think>\n1. **T** dance(",
                   "<think>x</think>\n1. **T** move(to=castle) |"):
        ids = torch.tensor([prompt_ids + tokenizer(prefix, add_special_tokens=False)["input_ids"]])
        scores = torch.randn(1, len(tokenizer))
        assert torch.equal(constraint(ids, scores.clone()), scores), prefix
    # inside the call: only continuations of a menu call survive
    ids = torch.tensor([prompt_ids + tokenizer("<think>x</think>\n1. **T** mo", add_special_tokens=False)["input_ids"]])
    out = constraint(ids, torch.zeros(1, len(tokenizer)))
    allowed = [tokenizer.decode([i]) for i in torch.nonzero(torch.isfinite(out[0])).flatten().tolist()]
    assert allowed and all("ve(to=castle) |".startswith(a) or a.startswith("ve(to=castle) |") for a in allowed)


def test_a_prompt_without_a_menu_is_not_constrained(tokenizer):
    prompt_ids = tokenizer("no menu here", add_special_tokens=False)["input_ids"]
    constraint = MenuConstraint(tokenizer, len(prompt_ids))
    ids = torch.tensor([prompt_ids + tokenizer("<think>x</think>\n1. **T** m", add_special_tokens=False)["input_ids"]])
    scores = torch.randn(1, len(tokenizer))
    assert torch.equal(constraint(ids, scores.clone()), scores)
