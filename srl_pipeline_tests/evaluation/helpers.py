"""Shared by the evaluation tests and srl_pipeline_tests/test_eval_command.py: the real vampire
rules (configs/game), hand-made tasks, a random LoRA adapter on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline.evaluation.evaluate import EvalSettings
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenarios import validate_scenario_record
from srl_pipeline.game.sources import FileGameStateSource, GameFiles
from srl_pipeline.training.plan_rollout import PlanTask

REPO_ROOT = Path(__file__).resolve().parents[2]
GAME_ROOT = REPO_ROOT / "configs" / "game"
TINY = EvalSettings(k=2, temperature=1.0, max_steps=2, max_new_tokens=16, batch_size=8, step_examples=4, seed=0)
STEP1 = '1. **Speak of the castle** converse(topic=the_castle) | "My castle has stood above this valley."'
STEP2 = '2. **Name the price** offer_bargain(price=gold) | "Your gold for my protection, mortal."'
METRIC_KEYS = {"tasks", "success_greedy", "success_avg_k", "k", "step_similarity", "srl_reward",
               "format_error_rate", "kl_to_base", "outcomes", "weakness", "examples"}


def vampire_ruleset() -> RuleSet:
    files = GameFiles(GAME_ROOT)
    return RuleSet.resolve(files.load_rules("vampire"), FileGameStateSource(files.game_state_path).active_events())


def make_task(ruleset: RuleSet, i: int, goal: str, state: dict, steps: tuple[str, ...] = ()) -> PlanTask:
    sc = validate_scenario_record({"id": f"t{i}", "goal": goal, "state": state}, ruleset, "test", i)
    # short texts keep the tiny model's prompts short (fast)
    return PlanTask(sc, f"Species: vampire\nGoal: {goal}", "- [voice] Courtly: full sentences.", steps, ruleset)


def build_lora_adapter(model_dir: Path, out: Path, seed: int = 1) -> Path:
    """A PEFT LoRA adapter on the tiny model with random (non-zero) weights, so it changes the model."""
    import torch
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
