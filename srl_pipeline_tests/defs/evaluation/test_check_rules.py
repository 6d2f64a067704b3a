"""The model_evaluation asset checks' pass/fail rules, called directly on hand-made artifacts:
completeness is blocking (ERROR), the KL target is a reported quality target (WARN)."""

from __future__ import annotations

import dagster as dg
import pytest

from srl_pipeline.defs.distillation.resources import DistillationSettings
from srl_pipeline.defs.evaluation import checks
from srl_pipeline.defs.evaluation.checks import PRODUCTION_MODELS
from srl_pipeline.defs.evaluation.resources import EvaluationSettings

from ..check_inputs import result_text

TASKS = 7
BOUND = 0.1


def _evaluation(tasks: int = TASKS, **kl) -> dict:
    """A model_evaluation artifact: every production model evaluated on every test task."""
    kls = {"base": 0.0, "srl": 0.04, "srl_rlvr": 0.08, "silver": None, "gold": None, **kl}  # other tiers: no KL to Bronze's base
    return {"species": "vampire", "rules_version": "5a66c7adcbb9fb85", "test_tasks": tasks, "settings": {},
            "models": {name: {"tasks": tasks, "success": 0.5, "kl_to_base": kls[name]} for name in PRODUCTION_MODELS}}


def _kl(evaluation: dict, bound: float = BOUND):
    return checks.evaluation_kl_within_target(model_evaluation=evaluation, evaluation=EvaluationSettings(kl_bound=bound))


def test_the_production_models_are_base_srl_srl_rlvr_and_the_distilled_tiers():
    assert set(PRODUCTION_MODELS) == {"base", "srl", "srl_rlvr", "silver", "gold"}


# -- evaluation_complete ----------------------------------------------------------------------
def test_evaluation_complete_passes_when_every_model_saw_every_task():
    r = checks.evaluation_complete(model_evaluation=_evaluation())
    assert r.passed, result_text(r)
    assert result_text(r) == (f"{TASKS} test scenarios; evaluated {{'base': {TASKS}, 'srl': {TASKS}, 'srl_rlvr': {TASKS}, "
                              f"'silver': {TASKS}, 'gold': {TASKS}}}")
    assert r.metadata["test_tasks"].value == TASKS
    assert r.severity == dg.AssetCheckSeverity.ERROR


@pytest.mark.parametrize("missing", sorted(PRODUCTION_MODELS))
def test_evaluation_complete_fails_when_a_production_model_is_missing(missing):
    ev = _evaluation()
    del ev["models"][missing]
    r = checks.evaluation_complete(model_evaluation=ev)
    assert not r.passed
    assert f"'{missing}'" not in result_text(r)
    assert result_text(r).startswith(f"{TASKS} test scenarios; evaluated {{")
    assert r.severity == dg.AssetCheckSeverity.ERROR


def test_evaluation_complete_fails_when_a_model_skipped_test_scenarios():
    ev = _evaluation()
    ev["models"]["srl_rlvr"]["tasks"] = TASKS - 1
    r = checks.evaluation_complete(model_evaluation=ev)
    assert not r.passed
    assert f"'srl_rlvr': {TASKS - 1}" in result_text(r)


def test_evaluation_complete_fails_when_a_model_has_no_task_count():
    ev = _evaluation()
    del ev["models"]["srl"]["tasks"]
    r = checks.evaluation_complete(model_evaluation=ev)
    assert not r.passed
    assert "'srl': None" in result_text(r)


def test_evaluation_complete_fails_with_no_test_scenarios():
    r = checks.evaluation_complete(model_evaluation=_evaluation(tasks=0))
    assert not r.passed
    assert result_text(r).startswith("0 test scenarios;")


def test_evaluation_complete_fails_on_a_model_outside_the_production_set():
    """Experiment baselines have their own asset; here they would mean a mixed-up evaluation."""
    ev = _evaluation()
    ev["models"]["sft"] = {"tasks": TASKS, "kl_to_base": 0.01}
    r = checks.evaluation_complete(model_evaluation=ev)
    assert not r.passed
    assert f"'sft': {TASKS}" in result_text(r)


def test_evaluation_complete_accepts_the_reference_rows_and_the_kl_target_ignores_them():
    ev = _evaluation()
    for name in ("random_legal", "solver"):
        ev["models"][name] = {"tasks": TASKS, "kl_to_base": None}
    assert checks.evaluation_complete(model_evaluation=ev).passed
    assert _kl(ev).passed
    ev["models"]["solver"]["tasks"] = TASKS - 1
    assert not checks.evaluation_complete(model_evaluation=ev).passed


# -- evaluation_kl_within_target (WARN) -------------------------------------------------------
def test_evaluation_kl_within_target_passes_within_the_bound():
    r = _kl(_evaluation())
    assert r.passed, result_text(r)
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert result_text(r) == f"KL to base per model {{'srl': 0.04, 'srl_rlvr': 0.08}} (target {BOUND})"


def test_evaluation_kl_within_target_passes_at_the_bound():
    r = _kl(_evaluation(srl_rlvr=BOUND))
    assert r.passed, result_text(r)


@pytest.mark.parametrize("model", ["srl", "srl_rlvr"])
def test_evaluation_kl_within_target_warns_above_the_bound(model):
    r = _kl(_evaluation(**{model: 0.25}))
    assert not r.passed
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert f"'{model}': 0.25" in result_text(r)
    assert f"(target {BOUND})" in result_text(r)


def test_evaluation_kl_within_target_follows_the_configured_bound():
    ev = _evaluation()
    assert _kl(ev, bound=0.08).passed
    r = _kl(ev, bound=0.079)
    assert not r.passed
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert "(target 0.079)" in result_text(r)


def test_evaluation_kl_within_target_warns_when_a_kl_is_missing():
    ev = _evaluation()
    del ev["models"]["srl"]["kl_to_base"]
    r = _kl(ev)
    assert not r.passed
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert "'srl': None" in result_text(r)


def test_evaluation_kl_within_target_ignores_the_tiers_on_other_bases():
    r = _kl(_evaluation(silver=None, gold=3.0))   # Silver and Gold adapt their own bases: no KL to Bronze's
    assert r.passed, result_text(r)
    assert "'gold'" not in result_text(r) and "'silver'" not in result_text(r)


def test_evaluation_kl_within_target_ignores_the_base_model():
    r = _kl(_evaluation(base=5.0))
    assert r.passed, result_text(r)
    assert "'base'" not in result_text(r)


# -- students_keep_bronzes_success (WARN) -----------------------------------------------------
def _shares(bronze_success, silver_success, gold_success, **keep):
    ev = _evaluation()
    for name, value in (("srl_rlvr", bronze_success), ("silver", silver_success), ("gold", gold_success)):
        if value is None:
            del ev["models"][name]
        else:
            ev["models"][name]["success_greedy"] = value
    settings = DistillationSettings(**({"keep_share": keep} if keep else {}))
    return checks.students_keep_bronzes_success(model_evaluation=ev, distillation=settings)


def test_students_keeping_their_share_of_bronzes_success_pass_with_the_shares_as_metadata():
    r = _shares(0.40, 0.40, 0.36)   # Gold exactly at 90 % of Bronze
    assert r.passed, result_text(r)
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert result_text(r) == ("Bronze 40.0 %; Silver 40.0 % (100 % of Bronze's, target 95 %), "
                              "Gold 36.0 % (90 % of Bronze's, target 90 %)")
    assert r.metadata["silver_share_of_bronze"].value == 1.0 and r.metadata["gold_share_of_bronze"].value == 0.9


def test_a_student_far_below_bronze_warns_naming_it():
    r = _shares(0.25, 0.05, 0.25)   # seed 1's vampire: Silver at 5 % under a 25 % Bronze
    assert not r.passed
    assert r.severity == dg.AssetCheckSeverity.WARN
    assert "Silver 5.0 % (20 % of Bronze's, target 95 %)" in result_text(r)
    assert result_text(r).endswith("; below target: Silver")


def test_the_targets_come_from_the_profile():
    assert not _shares(0.40, 0.30, 0.30).passed
    assert _shares(0.40, 0.30, 0.30, silver=0.7, gold=0.7).passed


def test_a_bronze_that_wins_nothing_leaves_no_share_to_keep():
    r = _shares(0.0, 0.0, 0.10)
    assert r.passed, result_text(r)
    assert result_text(r) == "Bronze wins no test scenario (0.0 %): no share to keep; Silver 0.0 %, Gold 10.0 %"
    assert "silver_share_of_bronze" not in r.metadata


def test_a_student_or_bronze_missing_from_the_evaluation_warns():
    r = _shares(0.40, 0.40, None)
    assert not r.passed and "Gold not evaluated" in result_text(r)
    r = _shares(None, 0.40, 0.40)
    assert not r.passed and result_text(r) == "Bronze's SRL→RLVR was not evaluated: no share to check"
