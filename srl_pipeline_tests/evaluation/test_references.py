"""The reference rows: the solver reaches every solvable goal; the random legal policy never breaks
a rule and is reproducible; both come out shaped like a model's metrics."""

from __future__ import annotations

import pytest

from srl_pipeline.evaluation.references import evaluate_reference, random_legal_rollouts, solver_rollouts


def test_the_solver_reaches_every_goal_it_can_and_the_metrics_look_like_a_models(tasks, ruleset):
    plays = solver_rollouts(tasks, ruleset, max_steps=8)
    assert [p.outcome for p in plays] == ["success"] * len(tasks)
    assert all(p.violation is None and p.legal_steps == len(p.turns) >= 1 for p in plays)
    result = evaluate_reference("solver", tasks, ruleset, k=4, seed=0, max_steps=8)
    assert result["success_greedy"] == result["success_avg_k"] == 1.0
    assert result["tasks"] == len(tasks) and result["kl_to_base"] is None and result["step_similarity"] is None


def test_the_random_legal_policy_never_breaks_a_rule_and_is_seeded(tasks, ruleset):
    plays = random_legal_rollouts(tasks, ruleset, samples=3, seed=0, max_steps=8)
    assert len(plays) == 3 * len(tasks)
    assert not [p for p in plays if p.outcome == "violation"]
    assert {p.outcome for p in plays} <= {"success", "goal_failed", "unfinished"}
    again = random_legal_rollouts(tasks, ruleset, samples=3, seed=0, max_steps=8)
    assert [p.plan for p in plays] == [p.plan for p in again]
    other = random_legal_rollouts(tasks, ruleset, samples=3, seed=1, max_steps=8)
    assert [p.plan for p in plays] != [p.plan for p in other]
    result = evaluate_reference("random_legal", tasks, ruleset, k=2, seed=0, max_steps=8)
    assert result["k"] == 2 and 0.0 <= result["success_greedy"] <= 1.0


def test_an_unknown_reference_is_an_error(tasks, ruleset):
    with pytest.raises(ValueError, match="unknown reference policy 'oracle'"):
        evaluate_reference("oracle", tasks, ruleset, k=1, seed=0, max_steps=8)
