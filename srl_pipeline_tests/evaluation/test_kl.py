"""The exact per-token KL to a reference, against a naive one-sequence-at-a-time computation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.evaluation.kl import kl_to_reference  # noqa: E402
from srl_pipeline.training.plan_rollout import PlanRollout, Turn  # noqa: E402


def _naive_kl(model, ref, tok, turns) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for t in turns:
            p = tok(t.prompt, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([p + t.completion_ids])
            lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            lq = torch.log_softmax(ref(input_ids=ids).logits[0].float(), -1)
            for j in range(len(p), len(p) + len(t.completion_ids)):
                a, b = lp[j - 1], lq[j - 1]
                total += float((a.exp() * (a - b)).sum())
                count += 1
    return total / count


def test_kl_is_exact_and_padding_free(two_models):
    model, ref, tok = two_models
    prompts = ["Scenario 1: the vampire meets a mortal.", "Scenario 22: a mortal", "Scenario 3"]
    turns = [Turn(prompts[0], "", [5, 6, 7], None), Turn(prompts[1], "", [8], None),
             Turn(prompts[2], "", [9, 10, 11, 12, 13], None), Turn(prompts[0], "", [], None)]
    rollouts = [PlanRollout(0, 0, "drive_off", turns[:2]), PlanRollout(1, 0, "drive_off", turns[2:])]
    expected = _naive_kl(model, ref, tok, turns[:3])
    for bs in (1, 2, 8):
        assert kl_to_reference(model, ref, tok, rollouts, batch_size=bs) == pytest.approx(expected, rel=1e-4)
    assert expected > 0
    assert kl_to_reference(model, model, tok, rollouts) == pytest.approx(0.0, abs=1e-6)
    assert kl_to_reference(model, ref, tok, [PlanRollout(0, 0, "drive_off", [turns[3]])]) is None
