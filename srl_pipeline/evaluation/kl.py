"""The exact per-token KL of a model to a reference model over the turns it wrote.

KL(model || reference) at each completion position, summed over the whole vocabulary from both
models' logits (not a sampled estimate), averaged over every completion token. torch is imported
where it runs.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..training.plan_rollout import PlanRollout, Turn

__all__ = ["kl_to_reference", "turn_kls"]


def kl_to_reference(model: Any, reference: Any, tokenizer: Any, rollouts: Sequence[PlanRollout], *,
                    chat: bool = False, batch_size: int = 32) -> float | None:
    """Mean per-token KL(model || reference) over every completion token of ``rollouts``' turns
    (:func:`turn_kls`). None when there is no completion token."""
    total, count = 0.0, 0
    for _turn, kl in turn_kls(model, reference, tokenizer, rollouts, chat=chat, batch_size=batch_size):
        total += float(kl.sum())
        count += kl.numel()
    return total / count if count else None


def turn_kls(model: Any, reference: Any, tokenizer: Any, rollouts: Sequence[PlanRollout], *,
             chat: bool = False, batch_size: int = 32) -> list[tuple[Turn, Any]]:
    """(turn, KL at each of its completion tokens), for every turn of ``rollouts`` that has a
    completion, in order.

    Each turn is re-scored as prompt (rendered exactly as generation saw it) + its completion ids;
    at each completion position KL = sum_v p(v) (log p(v) - log q(v)) over the whole vocabulary,
    from both models' logits at temperature 1. Rows are left-padded with explicit position ids and
    only the last ``max completion + 1`` logits are kept."""
    import torch

    from ..training.generation import render_prompts
    from ..training.shared_prefix import mask_positions

    seqs: list[tuple[Turn, list[int], int]] = []   # (turn, prompt + completion ids, completion length)
    for ro in rollouts:
        for turn in ro.turns:
            if not turn.completion_ids:
                continue
            text = render_prompts(tokenizer, [turn.prompt], chat)[0]
            prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if not prompt_ids:
                continue
            seqs.append((turn, list(prompt_ids) + list(turn.completion_ids), len(turn.completion_ids)))
    kls: list[tuple[Turn, Any]] = []
    if not seqs:
        return kls
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    ref_device = next(reference.parameters()).device
    was = model.training, reference.training
    model.eval()
    reference.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(seqs), batch_size):
                chunk = seqs[i:i + batch_size]
                width = max(len(s) for _, s, _ in chunk)
                keep = max(c for _, _, c in chunk) + 1
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for r, (_, s, _) in enumerate(chunk):
                    ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
                    mask[r, width - len(s):] = 1
                pos = mask_positions(mask)

                def logprobs(m: Any, dev: Any) -> Any:
                    out = m(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                            logits_to_keep=keep)
                    return torch.log_softmax(out.logits[:, -keep:].float(), dim=-1)

                lp = logprobs(model, device)
                lq = logprobs(reference, ref_device).to(lp.device)
                for r, (turn, _, c) in enumerate(chunk):
                    # the completion's tokens are the last c of the row, predicted by the c positions
                    # before them: kept indices keep-1-c .. keep-2
                    p, q = lp[r, keep - 1 - c: keep - 1], lq[r, keep - 1 - c: keep - 1]
                    kls.append((turn, (p.exp() * (p - q)).sum(-1)))
    finally:
        model.train(was[0])
        reference.train(was[1])
    return kls
