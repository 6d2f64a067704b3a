"""One turn budget: every stage of the local profile generates a turn with the same token limit.

Drift here cost ghoul half its test plans once (96 tokens in one place, 128 in another): a turn
cut off in evaluation but not in training reads as a format error the model never made.
"""

import inspect

import pytest

from srl_pipeline.core.profiles import load_profile_dict, load_stage_hyperparameters
from srl_pipeline.core.turn_budget import TURN_TOKENS
from srl_pipeline.evaluation.evaluate import EvalSettings
from srl_pipeline.training.distill_config import DistillHyperparameters
from srl_pipeline.training.generation import generate_steps
from srl_pipeline.training.plan_rollout import rollout_plans
from srl_pipeline.training.srl_config import SRLHyperparameters


@pytest.mark.parametrize("stage", ["srl", "rlvr", "sft", "distill"])
def test_local_stages_generate_turns_with_the_shared_budget(stage):
    hp = load_stage_hyperparameters(stage, "local")
    assert hp["validation_max_new_tokens"] == TURN_TOKENS
    if "max_completion_length" in hp:   # the stages that sample turns while training
        assert hp["max_completion_length"] == TURN_TOKENS


def test_local_evaluation_and_the_code_defaults_use_the_shared_budget():
    assert load_profile_dict("local")["evaluation"]["max_new_tokens"] == TURN_TOKENS
    assert EvalSettings().max_new_tokens == TURN_TOKENS
    assert DistillHyperparameters().max_completion_length == TURN_TOKENS
    assert SRLHyperparameters().max_completion_length == SRLHyperparameters().validation_max_new_tokens == TURN_TOKENS
    for fn in (generate_steps, rollout_plans):
        assert inspect.signature(fn).parameters["max_new_tokens"].default == TURN_TOKENS
