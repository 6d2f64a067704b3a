"""The no-regression gate, alone and as the registry applies it."""

from __future__ import annotations

from srl_pipeline.registry import APPROVED, REJECTED, promotion_decision

from .conftest import candidate


def test_a_worse_model_is_refused_within_the_tolerance_rule():
    prod = {"success_greedy": 0.6}
    worse = promotion_decision({"success_greedy": 0.5}, prod, metric="success_greedy", tolerance=0.05, evaluation_passed=True)
    assert not worse.promote and "regresses" in worse.reason
    tie = promotion_decision({"success_greedy": 0.56}, prod, metric="success_greedy", tolerance=0.05, evaluation_passed=True)
    assert tie.promote
    first = promotion_decision({"success_greedy": 0.0}, None, metric="success_greedy", tolerance=0.0, evaluation_passed=True)
    assert first.promote and "first version" in first.reason
    failed = promotion_decision({"success_greedy": 0.9}, prod, metric="success_greedy", tolerance=0.0, evaluation_passed=False)
    assert not failed.promote and "evaluation did not pass" in failed.reason


def test_the_gate_refusing_a_worse_model_leaves_the_previous_version_in_production(local_registry):
    from srl_pipeline.registry.promotion import register_if_better

    first = register_if_better(local_registry, candidate(success=0.6), evaluation_passed=True,
                               metric="success_greedy", tolerance=0.0)
    assert first.status == APPROVED
    worse = register_if_better(local_registry, candidate(success=0.4), evaluation_passed=True,
                               metric="success_greedy", tolerance=0.0)
    assert worse.status == REJECTED and "regresses" in worse.gate
    assert local_registry.production("vampire", "gold").version == first.version == 1
    again = register_if_better(local_registry, candidate(success=0.6), evaluation_passed=True,
                               metric="success_greedy", tolerance=0.0)
    assert again.version == 1 and len(local_registry.versions("vampire", "gold")) == 2   # same weights: not again
    tie = register_if_better(local_registry, candidate(success=0.6, adapter_version="new"), evaluation_passed=True,
                             metric="success_greedy", tolerance=0.0)
    assert tie.status == APPROVED and local_registry.production("vampire", "gold").version == 3


def test_a_model_whose_turns_do_not_parse_is_refused_even_as_a_first_version(local_registry):
    from srl_pipeline.registry.promotion import register_if_better

    broken = promotion_decision({"success_greedy": 0.0, "format_error_rate": 1.0}, None, metric="success_greedy",
                                tolerance=0.0, evaluation_passed=True, max_format_error_rate=0.5)
    assert not broken.promote and "100% of its greedy turns break the format" in broken.reason
    assert promotion_decision({"success_greedy": 0.0, "format_error_rate": 0.5}, None, metric="success_greedy",
                              tolerance=0.0, evaluation_passed=True, max_format_error_rate=0.5).promote
    bad = candidate(success=0.3, metrics={"success_greedy": 0.3, "format_error_rate": 0.9})
    got = register_if_better(local_registry, bad, evaluation_passed=True, metric="success_greedy", tolerance=0.0,
                             max_format_error_rate=0.5)
    assert got.status == REJECTED and local_registry.production("vampire", "gold") is None
