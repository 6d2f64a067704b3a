"""Dynamic sampling (DAPO-style), as a pure function over group reward spreads.

A GRPO group (the ``num_generations`` completions or plans of one prompt) whose reward standard
deviation is <= ``epsilon`` has zero advantages everywhere: it carries no learning signal. With
dynamic sampling on, such groups are *dropped* and fresh groups are drawn, generated and scored
until the batch holds as many informative groups as it should, or until ``max_extra_rounds`` extra
rounds have been spent; then the batch is filled by re-using kept groups (``padded_groups``). That
is not the same as zeroing the advantages of flat groups (what plain GRPO effectively does): the
batch keeps its size in *informative* groups. When nothing informative turns up at all, the
original batch is trained as it is (only the KL term acts) and reported as wholly padded.

:func:`select_groups` decides which groups make the batch; it never touches tensors or models.
The trainers (SRL: single completions; RLVR: whole plans) supply ``draw``, which generates and
scores ``n`` fresh groups for an extra round and returns their reward stds, and assemble the batch
from the returned ``selection``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

__all__ = ["DynamicSampling", "select_groups"]

Draw = Callable[[int, int], Sequence[float]]


@dataclass
class DynamicSampling:
    """Which groups make the batch, and what it cost.

    ``selection`` lists ``(round, group)`` pairs in batch order: round 0 is the original batch,
    round ``r`` the ``r``-th extra draw, ``group`` the index within that round. ``unchanged`` is
    True when the batch is the original one as it is (dynamic sampling off, or nothing informative).
    """

    n_groups: int
    group_size: int
    selection: list[tuple[int, int]] = field(default_factory=list)
    unchanged: bool = False
    scored_groups: int = 0
    dropped_groups: int = 0
    kept_groups: int = 0                  # informative groups in the batch (padding not counted)
    padded_groups: int = 0
    extra_rounds: int = 0
    extra_generations: int = 0            # completions (or plans) generated beyond the original batch

    @property
    def filter_rate(self) -> float:
        """Dropped / scored groups."""
        return self.dropped_groups / max(1, self.scored_groups)

    @property
    def generations_per_kept_group(self) -> float:
        """Completions generated per informative group kept (``group_size`` when nothing is dropped)."""
        return self.scored_groups * self.group_size / self.kept_groups if self.kept_groups else float("nan")


def _informative(stds: Sequence[float], epsilon: float) -> list[int]:
    return [g for g, s in enumerate(stds) if s > epsilon]


def select_groups(stds: Sequence[float], draw: Draw, *, group_size: int, epsilon: float, max_extra_rounds: int,
                  enabled: bool = True, sync_deficit: Callable[[int], int] = lambda d: d) -> DynamicSampling:
    """Choose the batch's groups from the original batch's reward ``stds`` and extra draws.

    ``draw(n, round_no)`` generates and scores ``n`` fresh groups for extra round ``round_no``
    (1, 2, ...) and returns their stds. ``sync_deficit`` turns this process's missing-group count
    into the count every process uses (the max over processes), so all run the same rounds.
    """
    n = len(stds)
    good = _informative(stds, epsilon)
    out = DynamicSampling(n_groups=n, group_size=group_size, scored_groups=n, dropped_groups=n - len(good))
    if not enabled:
        out.kept_groups, out.unchanged = len(good), True
        out.selection = [(0, g) for g in range(n)]
        return out
    selection = [(0, g) for g in good]
    rounds = 0
    while True:
        deficit = sync_deficit(n - len(selection))
        if deficit <= 0 or rounds >= max_extra_rounds:
            break
        rounds += 1
        fresh = list(draw(deficit, rounds))
        if len(fresh) != deficit:
            raise ValueError(f"draw({deficit}, {rounds}) returned {len(fresh)} group stds")
        fresh_good = _informative(fresh, epsilon)
        out.scored_groups += deficit
        out.dropped_groups += deficit - len(fresh_good)
        out.extra_generations += deficit * group_size
        selection.extend((rounds, g) for g in fresh_good[: max(0, n - len(selection))])
    out.extra_rounds = rounds
    out.kept_groups = len(selection)
    if not selection:
        out.selection, out.unchanged, out.padded_groups = [(0, g) for g in range(n)], True, n
        return out
    i = 0
    while len(selection) < n:  # cap hit: re-use kept groups to fill the batch
        selection.append(selection[i])
        i += 1
        out.padded_groups += 1
    out.selection = selection
    return out
