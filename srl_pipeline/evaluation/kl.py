"""The exact per-token KL of a model to a reference model over the turns it wrote.

KL(model || reference) at each completion position, summed over the whole vocabulary from both
models' logits (not a sampled estimate), averaged over every completion token. torch is imported
where it runs.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..training.plan_rollout import PlanRollout

__all__ = ["kl_to_reference"]


def kl_to_reference(model: Any, reference: Any, tokenizer: Any, rollouts: Sequence[PlanRollout], *,
                    chat: bool = False, batch_size: int = 32) -> float | None:
    """Mean per-token KL(model || reference) over every completion token of ``rollouts``' turns.

    Each turn is re-scored as prompt (rendered exactly as generation saw it) + its completion ids;
    at each completion position KL = sum_v p(v) (log p(v) - log q(v)) over the whole vocabulary,
    from both models' logits at temperature 1. Rows are left-padded with explicit position ids and
    only the last ``max completion + 1`` logits are kept. None when there is no completion token."""
    import torch

    from ..training.generation import render_prompts

    seqs: list[tuple[list[int], int]] = []   # (prompt + completion ids, completion length)
    for ro in rollouts:
        for turn in ro.turns:
            if not turn.completion_ids:
                continue
            text = render_prompts(tokenizer, [turn.prompt], chat)[0]
            prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if not prompt_ids:
                continue
            seqs.append((list(prompt_ids) + list(turn.completion_ids), len(turn.completion_ids)))
    if not seqs:
        return None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    ref_device = next(reference.parameters()).device
    total, count = 0.0, 0
    was = model.training, reference.training
    model.eval()
    reference.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(seqs), batch_size):
                chunk = seqs[i:i + batch_size]
                width = max(len(s) for s, _ in chunk)
                keep = max(c for _, c in chunk) + 1
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for r, (s, _) in enumerate(chunk):
                    ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
                    mask[r, width - len(s):] = 1
                pos = (mask.cumsum(-1) - 1).clamp(min=0)

                def logprobs(m: Any, dev: Any) -> Any:
                    out = m(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                            logits_to_keep=keep)
                    return torch.log_softmax(out.logits[:, -keep:].float(), dim=-1)

                lp = logprobs(model, device)
                lq = logprobs(reference, ref_device).to(lp.device)
                for r, (_, c) in enumerate(chunk):
                    # the completion's tokens are the last c of the row, predicted by the c positions
                    # before them: kept indices keep-1-c .. keep-2
                    p, q = lp[r, keep - 1 - c: keep - 1], lq[r, keep - 1 - c: keep - 1]
                    kl = (p.exp() * (p - q)).sum(-1)
                    total += float(kl.sum())
                    count += c
    finally:
        model.train(was[0])
        reference.train(was[1])
    return total / count if count else None
