"""The paired bootstrap behind the verdict's interval: pairs stay together, species are averaged."""

from __future__ import annotations

import pytest

from srl_pipeline.evaluation.paired_bootstrap import margin_interval, paired_differences, scenario_wins


def _played(wins: dict[str, bool]) -> dict:
    return {"per_task": [{"scenario_id": s, "outcome": "success" if w else "unfinished"} for s, w in wins.items()]}


def test_scenario_wins_reads_the_greedy_outcomes_and_nothing_without_them():
    assert scenario_wins(_played({"a": True, "b": False})) == {"a": 1.0, "b": 0.0}
    assert scenario_wins({"success_greedy": 0.5}) is None


def test_pairs_are_matched_by_scenario_and_models_without_outcomes_are_left_out():
    results = {"vampire": {"x": _played({"a": True, "b": False, "c": True}), "y": _played({"b": True, "a": True})},
               "lich": {"x": _played({"a": True}), "y": {"success_greedy": 0.0}}}
    assert paired_differences(results, "x", "y") == {"vampire": [0.0, -1.0]}   # a, b; c only x played
    assert margin_interval({"lich": results["lich"]}, "x", "y") is None


def test_identical_models_have_a_zero_interval_and_a_paired_lead_is_exact():
    same = _played({f"s{i}": i % 3 == 0 for i in range(30)})
    assert margin_interval({"vampire": {"x": same, "y": same}}, "x", "y") == (0.0, 0.0)
    # x wins exactly where y loses, on every scenario: the pair's difference is always 1.
    x = _played({f"s{i}": True for i in range(10)})
    y = _played({f"s{i}": False for i in range(10)})
    assert margin_interval({"vampire": {"x": x, "y": y}}, "x", "y") == (1.0, 1.0)


def test_the_interval_averages_species_and_holds_the_point_estimate():
    # vampire: x ahead on 6 of 20 scenarios; lich: y ahead on 2 of 10. Mean over species: (0.3 - 0.2) / 2.
    vampire = {"x": _played({f"v{i}": i < 6 for i in range(20)}), "y": _played({f"v{i}": False for i in range(20)})}
    lich = {"x": _played({f"l{i}": False for i in range(10)}), "y": _played({f"l{i}": i < 2 for i in range(10)})}
    lo, hi = margin_interval({"vampire": vampire, "lich": lich}, "x", "y", draws=4000)
    assert -1.0 <= lo < 0.05 < hi <= 1.0
    assert margin_interval({"vampire": vampire, "lich": lich}, "x", "y", draws=4000) == (lo, hi)   # seeded
    narrow = margin_interval({"vampire": vampire, "lich": lich}, "x", "y", draws=4000, level=0.5)
    assert lo <= narrow[0] <= narrow[1] <= hi


@pytest.mark.parametrize("kwargs", [{"draws": 0}, {"level": 1.0}, {"level": 0.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="margin_interval needs"):
        margin_interval({}, "x", "y", **kwargs)
