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


def test_an_adapter_loads_merged_and_computes_what_peft_computes(tiny_model_dir, tiny_adapter_dir):
    from peft import PeftModel

    from srl_pipeline.training.base_models import load_base_model, load_model

    merged, tok = load_model(str(tiny_model_dir), str(tiny_adapter_dir), "cpu")
    base, _ = load_base_model(str(tiny_model_dir))
    unmerged = PeftModel.from_pretrained(base, str(tiny_adapter_dir)).eval()
    assert not hasattr(merged, "peft_config")          # served as one model: no LoRA layers left
    ids = torch.tensor([tok.encode("goal: drive_off")])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, unmerged(ids).logits, atol=1e-5)
    plain, _ = load_base_model(str(tiny_model_dir))
    assert sum(p.numel() for p in merged.parameters()) == sum(p.numel() for p in plain.parameters())  # not base + adapter


def test_a_copy_of_an_evaluated_adapter_is_not_played_twice(tiny_model_dir, tiny_adapter_dir, tasks, ruleset, tmp_path):
    import shutil

    from srl_pipeline_tests.evaluation.helpers import build_lora_adapter

    twin = shutil.copytree(tiny_adapter_dir, tmp_path / "rlvr_shipped_its_start")
    config = json.loads((twin / "adapter_config.json").read_text())
    config["target_modules"] = list(reversed(config["target_modules"]))   # PEFT writes a set: any order
    (twin / "adapter_config.json").write_text(json.dumps(config))
    other = build_lora_adapter(tiny_model_dir, tmp_path / "other", seed=2)
    settings = EvalSettings(k=1, max_steps=1, max_new_tokens=8, batch_size=8, step_examples=0)
    out = evaluate_models({"srl": (str(tiny_model_dir), str(tiny_adapter_dir)),
                           "srl_rlvr": (str(tiny_model_dir), str(twin)),
                           "sft": (str(tiny_model_dir), str(other))}, tasks[:2], ruleset, [], settings, device="cpu")
    assert out["srl_rlvr"]["same_weights_as"] == "srl" and "same_weights_as" not in out["sft"]
    assert out["srl_rlvr"]["model"]["adapter"] == str(twin)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("model", "same_weights_as")}  # noqa: E731
    assert strip(out["srl_rlvr"]) == strip(out["srl"])
    assert out["sft"]["kl_to_base"] != out["srl"]["kl_to_base"]   # other weights: played for real
