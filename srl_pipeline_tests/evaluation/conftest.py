"""Fixtures of the evaluation tests: the real vampire rules, three hand-made tasks, the tiny
model (shared with the trainer tests), a LoRA adapter on it and a second tiny model."""

from __future__ import annotations

import pytest

from srl_pipeline.game.rules import RuleSet
from srl_pipeline.training.plan_rollout import PlanTask
from srl_pipeline_tests.evaluation.helpers import STEP1, STEP2, make_task, tiny_adapter_dir, vampire_ruleset  # noqa: F401
from srl_pipeline_tests.tiny_models import build_tiny_model


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return vampire_ruleset()


@pytest.fixture(scope="module")
def tasks(ruleset) -> list[PlanTask]:
    return [make_task(ruleset, 0, "drive_off", {"location": "forest", "time": "night"}),
            make_task(ruleset, 1, "strike_bargain", {"location": "village", "trust": 2}, (STEP1, STEP2)),
            make_task(ruleset, 2, "drive_off", {"location": "crypt", "player_behavior": "hostile"})]


@pytest.fixture(scope="session")
def two_models(tiny_model_dir, tmp_path_factory):
    """(the tiny model, another tiny model with other weights and the same tokenizer, the tokenizer)."""
    import torch

    torch.set_num_threads(1)
    from srl_pipeline.training.base_models import load_model

    other = build_tiny_model(tmp_path_factory.mktemp("tiny_other") / "model", seed=1)
    model, tok = load_model(str(tiny_model_dir), None, "cpu")
    ref, _ = load_model(str(other), None, "cpu")
    return model, ref, tok
