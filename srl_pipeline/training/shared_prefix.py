"""Prompts that begin alike are run once up to where they part (prefix caching for ``generate``).

The prompts of one generation batch often share a long beginning: the ``k`` sampled plays of a
scenario share the whole first turn, and every turn of a scenario starts with the same species,
lore and goal (about 250 of 390 tokens on the tiny tiers). Left-padded as usual, each row runs its
own copy of that beginning through the model. Here rows are grouped by a common token prefix and
laid out as ``[pad][prefix][pad][rest]``: the prefix block is run once per group and its key/value
cache handed to every row of the group; ``generate`` then runs only the rest. Positions come from
the attention mask (as ``generate`` derives them) and the padding is masked out, so each row sees
the same tokens at the same positions as in the plain layout: the same outputs, up to float
rounding, for less prefill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

__all__ = ["SharedPrefixLayout", "mask_positions", "plan_shared_prefixes", "prefix_cache"]

# A shorter common beginning saves too little to pay for the extra padding of the two-block layout.
MIN_SHARED = 32


@dataclass(frozen=True)
class SharedPrefixLayout:
    """Rows as ``[pad][prefix][pad][rest]``: ``ids`` / ``mask`` (rows x width); the first
    ``prefix_width`` columns are the prefix block, the same for every row of a group; ``heads``:
    one row index per group (whose prefix block is run); ``group_of_row``: each row's group."""

    ids: torch.Tensor
    mask: torch.Tensor
    prefix_width: int
    heads: torch.Tensor
    group_of_row: torch.Tensor

    @property
    def shared_tokens(self) -> int:
        """Prompt tokens the prefix cache saves running (prefix tokens of all rows but the heads)."""
        per_group = self.mask[self.heads, : self.prefix_width].sum(1)
        return int(per_group[self.group_of_row].sum() - per_group.sum())


def _common_length(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = 0
    for x, y in zip(a, b):
        if n >= limit or x != y:
            break
        n += 1
    return n


def _groups_at(order: list[int], adjacent: list[int], threshold: int) -> list[tuple[list[int], int]]:
    """Runs of the sorted rows whose neighbours share at least ``threshold`` tokens, each with the
    prefix all its rows share (0 for a row alone)."""
    groups: list[tuple[list[int], int]] = []
    members, shared = [order[0]], None
    for nxt, common in zip(order[1:], adjacent):
        if common >= threshold:
            members.append(nxt)
            shared = common if shared is None else min(shared, common)
        else:
            groups.append((members, shared or 0))
            members, shared = [nxt], None
    groups.append((members, shared or 0))
    return groups


def _cost(rows: Sequence[Sequence[int]], groups: list[tuple[list[int], int]]) -> tuple[int, list[int]]:
    """Prompt tokens the two-block layout runs for ``groups`` (the prefix block once per group, the
    rest block for every row, padding included), and each row's prefix length. A row alone puts its
    beginning in the prefix block too, so the rest block stays as narrow as the shared rows allow."""
    prefix = [0] * len(rows)
    for members, shared in groups:
        for m in members:
            prefix[m] = shared
    grouped = [m for members, _ in groups if len(members) > 1 for m in members]
    rest = max(len(rows[m]) - prefix[m] for m in grouped)
    for members, _ in groups:
        if len(members) == 1:
            prefix[members[0]] = max(0, len(rows[members[0]]) - rest)
    rest = max(len(row) - p for row, p in zip(rows, prefix))
    return len(groups) * max(prefix) + len(rows) * rest, prefix


def plan_shared_prefixes(rows: Sequence[Sequence[int]], pad_id: int, min_shared: int = MIN_SHARED,
                         max_cost: float = 0.8) -> SharedPrefixLayout | None:
    """The two-block layout of ``rows`` (token ids) that runs the fewest prompt tokens, or None when
    no two rows share a beginning of ``min_shared`` tokens (or are the same prompt), or when the best
    layout would not cut the tokens run below ``max_cost`` of the plain layout's (rows x the longest
    row).

    Rows sorted by their tokens have the longest common beginnings next to each other; groups are
    the runs whose neighbours share at least a threshold, and every threshold the neighbours offer
    is tried. Every row keeps at least its last token out of the prefix: ``generate`` needs an
    uncached token to start from."""
    if len(rows) < 2:
        return None
    order = sorted(range(len(rows)), key=lambda r: list(rows[r]))
    adjacent = [_common_length(rows[a], rows[b], min(len(rows[a]), len(rows[b])) - 1)
                for a, b in zip(order, order[1:])]
    same = [list(rows[a]) == list(rows[b]) for a, b in zip(order, order[1:])]   # a repeated prompt: always worth it
    best: tuple[int, list[tuple[list[int], int]], list[int]] | None = None
    for threshold in sorted({c for c, twin in zip(adjacent, same) if c >= min_shared or (twin and c > 0)}):
        groups = _groups_at(order, adjacent, threshold)
        cost, prefix = _cost(rows, groups)
        if best is None or cost < best[0]:
            best = (cost, groups, prefix)
    if best is None or best[0] > max_cost * len(rows) * max(len(row) for row in rows):
        return None
    _, groups, prefix_of_row = best
    group_of_row = [0] * len(rows)
    for g, (members, _) in enumerate(groups):
        for m in members:
            group_of_row[m] = g
    prefix_width = max(prefix_of_row)
    rest_width = max(len(row) - p for row, p in zip(rows, prefix_of_row))
    ids = torch.full((len(rows), prefix_width + rest_width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, (row, p) in enumerate(zip(rows, prefix_of_row)):
        row_t = torch.as_tensor(list(row), dtype=torch.long)
        ids[r, prefix_width - p:prefix_width] = row_t[:p]
        mask[r, prefix_width - p:prefix_width] = 1
        rest = len(row) - p
        ids[r, ids.size(1) - rest:] = row_t[p:]
        mask[r, ids.size(1) - rest:] = 1
    heads = torch.tensor([members[0] for members, _ in groups])
    return SharedPrefixLayout(ids, mask, prefix_width, heads, torch.tensor(group_of_row))


def mask_positions(mask: torch.Tensor) -> torch.Tensor:
    """Each real token's position: how many real tokens precede it in its row, as ``generate``
    derives them (padding, wherever it sits, gets 0 and is masked out)."""
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def prefix_cache(model: Any, ids: torch.Tensor, mask: torch.Tensor, width: int, heads: torch.Tensor,
                 group_of_row: torch.Tensor) -> Any:
    """The key/value cache of the first ``width`` columns for every row, computed on the ``heads``
    rows only and selected per row (``group_of_row``), with the positions ``generate`` derives
    from the mask: the cache ``generate`` would have built for those columns itself."""
    head_ids, head_mask = ids[heads, :width], mask[heads, :width]
    out = model(input_ids=head_ids, attention_mask=head_mask, position_ids=mask_positions(head_mask), use_cache=True,
                logits_to_keep=1)
    cache = out.cache
    cache.batch_select_indices(group_of_row.to(head_ids.device))
    return cache
