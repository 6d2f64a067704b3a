"""Dynamic sampling's decision on plain lists of group reward stds (no model, no torch)."""

from __future__ import annotations

import math

import pytest

from srl_pipeline.training.grpo.dynamic_sampling import select_groups

EPS = 1e-4


def scripted(*rounds: list[float]):
    """``draw`` that serves the given std lists, one per extra round, and records the calls."""
    calls: list[tuple[int, int]] = []

    def draw(n: int, round_no: int) -> list[float]:
        calls.append((n, round_no))
        return rounds[round_no - 1][:n]

    return draw, calls


def test_all_informative_keeps_the_batch_and_draws_nothing():
    draw, calls = scripted()
    ds = select_groups([0.3, 0.2], draw, group_size=4, epsilon=EPS, max_extra_rounds=3)
    assert ds.selection == [(0, 0), (0, 1)] and not calls and not ds.unchanged
    assert (ds.scored_groups, ds.dropped_groups, ds.kept_groups, ds.padded_groups) == (2, 0, 2, 0)
    assert ds.filter_rate == 0.0 and ds.generations_per_kept_group == 4.0


def test_flat_groups_are_dropped_and_refilled_from_extra_rounds():
    draw, calls = scripted([0.0, 0.0], [0.5, 0.0], [0.7])   # round 1: both flat; 2: one good; 3: the last
    ds = select_groups([0.0, 0.4, 0.0], draw, group_size=4, epsilon=EPS, max_extra_rounds=5)
    assert calls == [(2, 1), (2, 2), (1, 3)]
    assert ds.selection == [(0, 1), (2, 0), (3, 0)] and ds.padded_groups == 0 and not ds.unchanged
    assert (ds.scored_groups, ds.dropped_groups, ds.kept_groups) == (8, 5, 3)
    assert ds.extra_generations == 5 * 4 and ds.extra_rounds == 3


def test_refill_asks_only_for_the_missing_groups_and_takes_no_more():
    draw, calls = scripted([0.2, 0.3])
    ds = select_groups([0.0, 0.0, 0.1], draw, group_size=2, epsilon=EPS, max_extra_rounds=3)
    assert calls == [(2, 1)]
    assert ds.selection == [(0, 2), (1, 0), (1, 1)]
    assert (ds.scored_groups, ds.dropped_groups, ds.kept_groups) == (5, 2, 3)
    assert ds.filter_rate == pytest.approx(2 / 5) and ds.extra_generations == 4 and ds.padded_groups == 0


def test_cap_holds_and_the_batch_is_padded_with_kept_groups():
    draw, calls = scripted([0.0], [0.0])
    ds = select_groups([0.2, 0.0], draw, group_size=4, epsilon=EPS, max_extra_rounds=2)
    assert calls == [(1, 1), (1, 2)] and ds.extra_rounds == 2
    assert ds.selection == [(0, 0), (0, 0)] and ds.padded_groups == 1 and ds.kept_groups == 1
    assert ds.extra_generations == 8 and ds.filter_rate == pytest.approx(3 / 4)


def test_nothing_informative_trains_the_original_batch_reported_as_padded():
    draw, _ = scripted([0.0, 0.0], [0.0, 0.0])
    ds = select_groups([0.0, 0.0], draw, group_size=4, epsilon=EPS, max_extra_rounds=2)
    assert ds.unchanged and ds.selection == [(0, 0), (0, 1)]
    assert ds.padded_groups == 2 and ds.kept_groups == 0 and ds.filter_rate == 1.0
    assert math.isnan(ds.generations_per_kept_group)


def test_cap_zero_pads_without_drawing():
    draw, calls = scripted()
    ds = select_groups([0.2, 0.0], draw, group_size=4, epsilon=EPS, max_extra_rounds=0)
    assert not calls and ds.selection == [(0, 0), (0, 0)] and ds.padded_groups == 1 and ds.filter_rate == 0.5


def test_disabled_keeps_the_batch_and_still_reports_the_filter_rate():
    draw, calls = scripted()
    ds = select_groups([0.2, 0.0], draw, group_size=4, epsilon=EPS, max_extra_rounds=3, enabled=False)
    assert ds.unchanged and not calls and ds.selection == [(0, 0), (0, 1)]
    assert ds.filter_rate == 0.5 and ds.extra_generations == 0 and ds.kept_groups == 1


def test_epsilon_is_the_flat_threshold_inclusive():
    draw, _ = scripted([0.5])
    ds = select_groups([EPS, 2 * EPS], draw, group_size=2, epsilon=EPS, max_extra_rounds=1)
    assert ds.dropped_groups == 1 and ds.selection == [(0, 1), (1, 0)]


def test_every_process_runs_the_rounds_the_neediest_asks_for():
    draw, calls = scripted([0.0, 0.3, 0.3])
    # this process misses nothing, another misses 3: it still draws 3 and takes none
    ds = select_groups([0.2, 0.2], draw, group_size=2, epsilon=EPS, max_extra_rounds=1,
                       sync_deficit=lambda d: max(d, 3))
    assert calls == [(3, 1)] and ds.selection == [(0, 0), (0, 1)] and ds.scored_groups == 5


def test_a_draw_of_the_wrong_size_is_an_error():
    with pytest.raises(ValueError, match="returned 1"):
        select_groups([0.0, 0.0], lambda n, r: [0.1], group_size=2, epsilon=EPS, max_extra_rounds=1)
