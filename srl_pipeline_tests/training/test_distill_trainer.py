"""Distillation through the one job runner: the warm start on traces, then on-policy reverse KL
against the teacher; no traces skips the warm start; a teacher with another tokenizer is refused
before any training."""

from __future__ import annotations

import json

import pytest

from srl_pipeline.training.distill_trainer import TokenizerMismatch, check_same_tokenizer, run_distill
from srl_pipeline.training.job_spec import TrainingJobSpec
from srl_pipeline_tests.tiny_models import STEP


def _dataset(path, traces: int):
    prompt = "Scenario {i}: the vampire meets a mortal.\nSteps so far:\n(none yet)\n"
    data = {"traces": [{"id": f"t{i}", "prompt": prompt.format(i=i), "completion": f"\n<think>plan {i}</think>\n" + STEP.format(n=1, i=i)}
                       for i in range(traces)],
            "prompts": [{"id": f"p{i}", "prompt": prompt.format(i=i)} for i in range(6)],
            "validation": [{"id": f"v{i}", "prompt": prompt.format(i=100 + i), "target": STEP.format(n=1, i=i)} for i in range(2)]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _spec(tmp_path, model_dir, traces: int, **over) -> TrainingJobSpec:
    data = dict(stage="distill", species="vampire", tier="silver", base_model=str(model_dir),
                dataset=str(_dataset(tmp_path / "distill.json", traces)), output_dir=str(tmp_path / "out"),
                checkpoint_dir=str(tmp_path / "ckpt"), teacher_base_model=str(model_dir),
                hyperparameters={"profile": "test", "sft_steps": 1, "batch_size": 2, "max_completion_length": 6},
                max_steps=3, checkpoint_every_steps=2)
    data.update(over)
    return TrainingJobSpec(**data)


def test_warm_start_then_on_policy_reverse_kl(tiny_model_dir, tmp_path):
    metrics = run_distill(_spec(tmp_path, tiny_model_dir, traces=3))
    assert metrics["status"] == "completed" and metrics["global_step"] == 3
    assert [h["phase"] for h in metrics["history"]] == ["sft", "on_policy", "on_policy"]
    kls = [h["kl_to_teacher"] for h in metrics["history"] if h["phase"] == "on_policy"]
    assert all(k is not None and k >= 0.0 for k in kls)
    assert metrics["history"][0]["nll"] > 0 and metrics["sft_steps"] == 1 and metrics["on_policy_steps"] == 2
    # a student identical to its teacher starts at KL 0 on the validation targets
    assert metrics["validation_kl_to_teacher_base"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["validation_kl_to_teacher_trained"] >= 0.0
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "ckpt" / "ckpt-2").is_dir()   # the shared atomic checkpoints


def test_no_traces_skips_the_warm_start_and_still_distils_on_policy(tiny_model_dir, tmp_path):
    metrics = run_distill(_spec(tmp_path, tiny_model_dir, traces=0, max_steps=1))
    assert [h["phase"] for h in metrics["history"]] == ["on_policy"]
    assert metrics["sft_steps"] == 0 and "no traces" in metrics["warm_start"]


def test_a_teacher_with_another_tokenizer_is_refused(tmp_path):
    from srl_pipeline.training.base_models import build_tokenizer

    texts = [f"the vampire {i} meets a mortal <think>x</think>" for i in range(200)]
    a, b = build_tokenizer(texts, vocab_size=300), build_tokenizer(texts[:50] + ["zzz qqq"] * 50, vocab_size=280)
    check_same_tokenizer(a, a, "silver", "bronze")
    with pytest.raises(TokenizerMismatch, match="do not share a tokenizer: vocabulary sizes differ"):
        check_same_tokenizer(a, b, "gold", "silver")


def test_the_student_ships_its_best_validation_checkpoint(tiny_model_dir, tmp_path):
    """With the validation encounters in the dataset (as the distillation assets write it), the
    student is scored at step 0 and every ``select_every`` steps, and the adapter saved is the
    selected one: when nothing beats the untrained student, its LoRA update is zero."""
    from safetensors.torch import load_file

    from srl_pipeline_tests.training.test_rlvr_trainer import write_plan_dataset

    plans = json.loads(write_plan_dataset(tmp_path / "plans.json").read_text(encoding="utf-8"))
    spec = _spec(tmp_path, tiny_model_dir, traces=3,
                 hyperparameters={"profile": "test", "sft_steps": 1, "batch_size": 2, "max_completion_length": 6,
                                  "select_every": 2, "select_max_plan_steps": 2})
    data = json.loads(open(spec.dataset, encoding="utf-8").read())
    data.update(plan_tasks=[t for t in plans["plan_tasks"] if t["split"] == "validation"], rules=plans["rules"])
    open(spec.dataset, "w", encoding="utf-8").write(json.dumps(data))

    metrics = run_distill(spec)
    selection = metrics["selection"]
    assert [p["step"] for p in selection["curve"]] == [0, 2, 3]
    assert selection["best_step"] in (0, 2, 3)
    weights = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    selected = load_file(str(tmp_path / "ckpt" / "selected.safetensors"))
    shipped_b = sorted(float(w.abs().sum()) for k, w in weights.items() if "lora_B" in k)
    selected_b = sorted(float(w.abs().sum()) for k, w in selected.items() if "lora_B" in k)
    assert shipped_b == pytest.approx(selected_b)
    if selection["best_step"] == 0:
        assert sum(shipped_b) == 0.0
