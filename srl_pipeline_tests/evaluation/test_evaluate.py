"""The whole evaluation on a tiny random model with the real vampire rules (configs/game)."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.evaluation.evaluate import EvalSettings, evaluate_model, evaluate_models  # noqa: E402
from srl_pipeline_tests.evaluation.helpers import METRIC_KEYS, STEP1, STEP2, TINY  # noqa: E402


def test_evaluate_model_tiny(two_models, tasks, ruleset):
    model, _, tok = two_models
    examples = [{"prompt": tasks[1].prompt([]), "target": STEP1}, {"prompt": tasks[1].prompt([STEP1]), "target": STEP2}]
    res = evaluate_model(model, tok, tasks, ruleset, examples, TINY, reference=model)
    assert METRIC_KEYS <= set(res)
    assert res["tasks"] == 3 and res["k"] == 2
    assert sum(res["outcomes"].values()) == 3 * (1 + 2)
    for key in ("success_greedy", "success_avg_k", "step_similarity", "format_error_rate"):
        assert 0.0 <= res[key] <= 1.0, key
    assert -1.0 <= res["srl_reward"] <= 1.0
    assert res["step_examples"] == 2
    assert res["kl_to_base"] == pytest.approx(0.0, abs=1e-6)
    assert len(res["examples"]) <= 3 and len(res["weakness"]["top_failure_modes"]) <= 3
    # a random model breaks the format: every greedy plan ends at its first turn
    assert res["turns"] >= 3 + 2
    json.dumps(res)  # JSON-able
    again = evaluate_model(model, tok, tasks, ruleset, examples, TINY, reference=None)
    assert again["kl_to_base"] is None
    timing = {"kl_to_base", "latency_ms_per_turn"}   # wall time is not deterministic; everything else is
    assert {k: v for k, v in again.items() if k not in timing} == {k: v for k, v in res.items() if k not in timing}
    assert res["parameters"] == sum(p.numel() for p in model.parameters()) and res["latency_ms_per_turn"] > 0


def test_evaluate_models_reference_and_adapter(tiny_model_dir, tiny_adapter_dir, tasks, ruleset):
    settings = EvalSettings(k=1, max_steps=1, max_new_tokens=8, batch_size=8, step_examples=0)
    out = evaluate_models({"base": (str(tiny_model_dir), None), "srl": (str(tiny_model_dir), str(tiny_adapter_dir))},
                          tasks[:1], ruleset, [], settings, device="cpu")
    assert list(out) == ["base", "srl"]
    assert out["base"]["kl_to_base"] == 0.0
    assert out["srl"]["kl_to_base"] is not None and out["srl"]["kl_to_base"] > 0 and math.isfinite(out["srl"]["kl_to_base"])
    assert out["srl"]["model"] == {"name": "srl", "base_model": str(tiny_model_dir), "adapter": str(tiny_adapter_dir)}
    assert out["base"]["step_similarity"] is None and out["base"]["tasks"] == 1
