"""Evaluation: exact counting on hand-made rollouts, the exact KL, the table and plot, and the
whole evaluation on a tiny random model with the real vampire rules (configs/game)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.game.rules import RuleSet  # noqa: E402
from srl_pipeline.game.scenarios import validate_scenario_record  # noqa: E402
from srl_pipeline.game.simulator import Violation  # noqa: E402
from srl_pipeline.game.sources import FileGameStateSource, GameFiles  # noqa: E402
from srl_pipeline.training.evaluation import (  # noqa: E402
    EvalSettings, comparison_plot, evaluate_model, evaluate_models, kl_to_reference, load_model, results_table,
    summarize_rollouts, summarize_steps,
)
from srl_pipeline.training.plan_rollout import OUTCOMES, PlanRollout, PlanTask, Turn  # noqa: E402
from srl_pipeline.training.rewards import step_similarity  # noqa: E402
from srl_pipeline_tests.training.test_srl_trainer import build_tiny_model, tiny_model_dir  # noqa: E402,F401

REPO_ROOT = Path(__file__).resolve().parents[2]
GAME_ROOT = REPO_ROOT / "configs" / "game"
TINY = EvalSettings(k=2, temperature=1.0, max_steps=2, max_new_tokens=16, batch_size=8, step_examples=4, seed=0)
STEP1 = '1. **Speak of the castle** converse(topic=the_castle) | "My castle has stood above this valley."'
STEP2 = '2. **Name the price** offer_bargain(price=gold) | "Your gold for my protection, mortal."'
METRIC_KEYS = {"tasks", "success_greedy", "success_avg_k", "k", "step_similarity", "srl_reward",
               "format_error_rate", "kl_to_base", "outcomes", "weakness", "examples"}


# ------------------------------------------------------------------------------------------------
# Fixtures shared with srl_pipeline_tests/test_eval_command.py
# ------------------------------------------------------------------------------------------------
def vampire_ruleset() -> RuleSet:
    files = GameFiles(GAME_ROOT)
    return RuleSet.resolve(files.load_rules("vampire"), FileGameStateSource(files.game_state_path).active_events())


def build_lora_adapter(model_dir: Path, out: Path, seed: int = 1) -> Path:
    """A PEFT LoRA adapter on the tiny model with random (non-zero) weights, so it changes the model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return build_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("tiny_adapter") / "adapter")


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return vampire_ruleset()


def _task(ruleset: RuleSet, i: int, goal: str, state: dict, steps: tuple[str, ...] = ()) -> PlanTask:
    sc = validate_scenario_record({"id": f"t{i}", "goal": goal, "state": state}, ruleset, "test", i)
    # short texts keep the tiny model's prompts short (fast)
    return PlanTask(sc, f"Species: vampire\nGoal: {goal}", "- [voice] Courtly: full sentences.", steps, ruleset)


@pytest.fixture(scope="module")
def tasks(ruleset) -> list[PlanTask]:
    return [_task(ruleset, 0, "drive_off", {"location": "forest", "time": "night"}),
            _task(ruleset, 1, "strike_bargain", {"location": "village", "trust": 2}, (STEP1, STEP2)),
            _task(ruleset, 2, "drive_off", {"location": "crypt", "player_behavior": "hostile"})]


# ------------------------------------------------------------------------------------------------
# Pure aggregation
# ------------------------------------------------------------------------------------------------
def _ro(task: int, sample: int, goal: str, outcome: str, steps: int = 1, rule: str | None = None) -> PlanRollout:
    turns = [Turn(f"p{task}", "<think>x</think>\n" + STEP1, [1, 2], STEP1) for _ in range(steps)]
    if outcome == "format_error":
        turns[-1] = Turn(f"p{task}", "garbled", [3], None)
    violation = Violation(steps, rule, "forbidden", f"{rule} forbids it") if rule else None
    legal = steps - (outcome in ("format_error", "violation"))
    return PlanRollout(task, sample, goal, turns, outcome, violation, legal)


def _hand_made():
    goals = ["drive_off", "strike_bargain", "drive_off"]
    greedy = [_ro(0, 0, goals[0], "success", 2), _ro(1, 0, goals[1], "violation", 1, "sunlight_burns"),
              _ro(2, 0, goals[2], "format_error", 3)]
    sampled = [_ro(0, 0, goals[0], "success", 2), _ro(0, 1, goals[0], "violation", 2, "sunlight_burns"),
               _ro(1, 0, goals[1], "goal_failed", 1), _ro(1, 1, goals[1], "violation", 1, "sunlight_burns"),
               _ro(2, 0, goals[2], "unfinished", 2), _ro(2, 1, goals[2], "success", 2)]
    return greedy, sampled


def test_summarize_rollouts_counts_exactly(tasks):
    greedy, sampled = _hand_made()
    s = summarize_rollouts(greedy, sampled, tasks, k=2)
    assert s["tasks"] == 3 and s["k"] == 2
    assert s["success_greedy"] == pytest.approx(1 / 3)
    assert s["success_avg_k"] == pytest.approx(2 / 6)
    assert s["outcomes"] == {"success": 3, "format_error": 1, "violation": 3, "goal_failed": 1, "unfinished": 1}
    assert list(s["outcomes"]) == list(OUTCOMES)
    w = s["weakness"]
    assert w["by_rule"] == {"sunlight_burns": 3}
    assert w["by_goal"] == {"drive_off": {"tasks": 2, "success_greedy": 0.5, "failures": 1},
                            "strike_bargain": {"tasks": 1, "success_greedy": 0.0, "failures": 1}}
    assert w["top_failure_modes"] == ["never reaches strike_bargain (0 of 3 plans)",
                                      "violates sunlight_burns (3 of 9 plans)",
                                      "format errors (1 of 9 plans)"]
    assert [(e["scenario_id"], e["outcome"]) for e in s["examples"]] == [
        ("t0", "success"), ("t1", "violation"), ("t2", "format_error")]
    assert s["examples"][1]["violation"]["rule"] == "sunlight_burns"
    assert s["examples"][2]["unparsed_completion"] == "garbled"
    assert s["examples"][0]["plan"] == [STEP1, STEP1]
    assert [(t["scenario_id"], t["outcome"], t["violated_rule"], t["sampled_successes"]) for t in s["per_task"]] == [
        ("t0", "success", None, 1), ("t1", "violation", "sunlight_burns", 0), ("t2", "format_error", None, 1)]


def test_summarize_rollouts_examples_prefer_distinct_outcomes(ruleset):
    tasks = [_task(ruleset, i, "drive_off", {}) for i in range(5)]
    outcomes = ["success", "success", "violation", "success", "violation"]
    greedy = [_ro(i, 0, "drive_off", o, 1, "sunlight_burns" if o == "violation" else None)
              for i, o in enumerate(outcomes)]
    s = summarize_rollouts(greedy, [], tasks, k=0)
    assert [e["scenario_id"] for e in s["examples"]] == ["t0", "t1", "t2"]
    assert s["success_avg_k"] is None and s["success_greedy"] == pytest.approx(0.6)
    assert s["weakness"]["top_failure_modes"] == ["violates sunlight_burns (2 of 5 plans)"]


def test_summarize_steps_exact():
    other = '1. **Show the fangs** intimidate(target=player) | "Leave now, mortal, or stay forever."'
    completions = ["<think>a</think>\n" + STEP1, "no think tag at all", "<think>b</think>\n" + other]
    s = summarize_steps(completions, [STEP1, STEP1, STEP1])
    sim = step_similarity(other, STEP1)
    assert 0 < sim < 1
    assert s == {"step_examples": 3, "step_similarity": pytest.approx((1 + 0 + sim) / 3),
                 "srl_reward": pytest.approx((1 - 1 + sim) / 3), "step_format_errors": 1}
    assert summarize_steps([], [])["step_similarity"] is None


# ------------------------------------------------------------------------------------------------
# Tables and plots
# ------------------------------------------------------------------------------------------------
def test_results_table_exact():
    results = {
        "vampire": {"base": {"success_greedy": 0.1}, "sft": {"success_greedy": 0.25},
                    "srl": {"success_greedy": 0.5}, "srl_rlvr": {"success_greedy": 0.625}},
        "werewolf": {"base": {"success_greedy": 0.2}, "srl": {"success_greedy": 0.0},
                     "srl_rlvr": {"success_greedy": None}},
    }
    models = ["base", "sft", "rlvr_only", "srl", "srl_rlvr"]
    assert results_table(results, models) == (
        "| species (success_greedy, %) | Base | SFT | RLVR-only | SRL | SRL→RLVR |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| vampire | 10.0 | 25.0 | — | 50.0 | 62.5 |\n"
        "| werewolf | 20.0 | — | — | 0.0 | — |\n"
        "| average | 15.0 | 25.0 | — | 25.0 | 62.5 |\n")
    kl = results_table({"vampire": {"srl": {"kl_to_base": 0.01234}}}, ["srl"], metric="kl_to_base")
    assert kl == "| species (kl_to_base) | SRL |\n|---|---:|\n| vampire | 0.012 |\n| average | 0.012 |\n"


def test_comparison_plot_is_a_png():
    png = comparison_plot({"base": {"success_greedy": 0.1, "success_avg_k": 0.05, "k": 4},
                           "srl_rlvr": {"success_greedy": 0.6, "success_avg_k": 0.5, "k": 4}},
                          ["base", "sft", "srl_rlvr"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


# ------------------------------------------------------------------------------------------------
# KL and the whole evaluation on a tiny model
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_models(tiny_model_dir, tmp_path_factory):
    other = build_tiny_model(tmp_path_factory.mktemp("tiny_other") / "model", seed=1)
    model, tok = load_model(str(tiny_model_dir), None, "cpu")
    ref, _ = load_model(str(other), None, "cpu")
    return model, ref, tok


def _naive_kl(model, ref, tok, turns) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for t in turns:
            p = tok(t.prompt, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([p + t.completion_ids])
            lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            lq = torch.log_softmax(ref(input_ids=ids).logits[0].float(), -1)
            for j in range(len(p), len(p) + len(t.completion_ids)):
                a, b = lp[j - 1], lq[j - 1]
                total += float((a.exp() * (a - b)).sum())
                count += 1
    return total / count


def test_kl_is_exact_and_padding_free(two_models):
    model, ref, tok = two_models
    prompts = ["Scenario 1: the vampire meets a mortal.", "Scenario 22: a mortal", "Scenario 3"]
    turns = [Turn(prompts[0], "", [5, 6, 7], None), Turn(prompts[1], "", [8], None),
             Turn(prompts[2], "", [9, 10, 11, 12, 13], None), Turn(prompts[0], "", [], None)]
    rollouts = [PlanRollout(0, 0, "drive_off", turns[:2]), PlanRollout(1, 0, "drive_off", turns[2:])]
    expected = _naive_kl(model, ref, tok, turns[:3])
    for bs in (1, 2, 8):
        assert kl_to_reference(model, ref, tok, rollouts, batch_size=bs) == pytest.approx(expected, rel=1e-4)
    assert expected > 0
    assert kl_to_reference(model, model, tok, rollouts) == pytest.approx(0.0, abs=1e-6)
    assert kl_to_reference(model, ref, tok, [PlanRollout(0, 0, "drive_off", [turns[3]])]) is None


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
    import json

    json.dumps(res)  # JSON-able
    again = evaluate_model(model, tok, tasks, ruleset, examples, TINY, reference=None)
    assert again["kl_to_base"] is None
    assert {k: v for k, v in again.items() if k != "kl_to_base"} == {k: v for k, v in res.items() if k != "kl_to_base"}


def test_evaluate_models_reference_and_adapter(tiny_model_dir, tiny_adapter_dir, tasks, ruleset):
    settings = EvalSettings(k=1, max_steps=1, max_new_tokens=8, batch_size=8, step_examples=0)
    out = evaluate_models({"base": (str(tiny_model_dir), None), "srl": (str(tiny_model_dir), str(tiny_adapter_dir))},
                          tasks[:1], ruleset, [], settings, device="cpu")
    assert list(out) == ["base", "srl"]
    assert out["base"]["kl_to_base"] == 0.0
    assert out["srl"]["kl_to_base"] is not None and out["srl"]["kl_to_base"] > 0 and math.isfinite(out["srl"]["kl_to_base"])
    assert out["srl"]["model"] == {"name": "srl", "base_model": str(tiny_model_dir), "adapter": str(tiny_adapter_dir)}
    assert out["base"]["step_similarity"] is None and out["base"]["tasks"] == 1
