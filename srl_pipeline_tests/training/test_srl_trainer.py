"""SRL trainer: dynamic sampling drops flat groups and refills, the cap holds, the KL bound acts.

Everything runs on a randomly initialised tiny Qwen2 (hidden 64, 2 layers) and a byte-level BPE
tokenizer trained here on a few hundred strings (no downloads); see ``srl_pipeline_tests/tiny_models.py``.
"""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: one thread is as fast, and immune to a busy machine's contention

from srl_pipeline.training.grpo.kl_control import AdaptiveKLController, window_max  # noqa: E402
from srl_pipeline.training.job_runner import STATUS_KL_BOUND  # noqa: E402
from srl_pipeline.training.rewards import srl  # noqa: E402
from srl_pipeline.training.srl_config import (  # noqa: E402
    SRLHyperparameters, load_srl_config, resolve_hyperparameters,
)
from srl_pipeline.training.srl_trainer import SRLTrainer  # noqa: E402
from srl_pipeline_tests.tiny_models import PROMPTS, STEP, flat_or_varied, make_trainer  # noqa: E402


def _batch(prompts: list[str], G: int = 4) -> list[dict]:
    return [{"prompt": p, "target": STEP.format(n=1, i=0)} for p in prompts for _ in range(G)]


def _batch_prompts(trainer: SRLTrainer, out: dict) -> list[str]:
    ids = out["prompt_ids"]
    texts = trainer.processing_class.batch_decode(ids, skip_special_tokens=True)
    return [t.strip() for t in texts]


# ------------------------------------------------------------------------------------------------
# Dynamic sampling (the decision itself is tested on plain lists in grpo/test_dynamic_sampling.py)
# ------------------------------------------------------------------------------------------------

def test_dynamic_sampling_drops_zero_std_groups_and_refills(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, max_extra_generation_rounds=20)
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["flat 0: a quiet crypt.", "flat 1: a quiet crypt."]))
    G = trainer.num_generations
    assert out["completion_ids"].size(0) == 2 * G == out["prompt_ids"].size(0) == out["advantages"].size(0)
    prompts = _batch_prompts(trainer, out)
    assert all(p.startswith("live") for p in prompts), prompts      # the flat groups were dropped...
    for g in range(2):                                                # ...and whole groups came back
        assert len(set(prompts[g * G:(g + 1) * G])) == 1
    assert out["advantages"].abs().sum() > 0
    assert int(out["num_items_in_batch"]) == int(out["completion_mask"].sum())
    m = trainer._metrics["train"]
    assert m["dynamic/filter_rate"][-1] > 0
    assert m["dynamic/extra_generations"][-1] >= 2 * G and m["dynamic/extra_generations"][-1] % G == 0
    assert m["dynamic/padded_groups"][-1] == 0
    t = trainer.dynamic_totals
    assert t["dropped_groups"] >= 2 and t["kept_groups"] == 2 and t["extra_generations"] > 0
    assert t["scored_groups"] == t["kept_groups"] + t["dropped_groups"]


def test_dynamic_sampling_cap_is_respected_and_batch_padded_with_kept_groups(tiny_model_dir, tmp_path):
    only_flat = [f"flat {i}: a quiet crypt." for i in range(6)]
    trainer = make_trainer(tiny_model_dir, tmp_path, only_flat, flat_or_varied, max_extra_generation_rounds=2)
    trainer.model.train()
    G = trainer.num_generations
    out = trainer._generate_and_score_completions(_batch(["flat 0: a quiet crypt.", "flat 1: a quiet crypt."]))
    assert out["completion_ids"].size(0) == 2 * G               # batch size kept
    m = trainer._metrics["train"]
    assert m["dynamic/extra_rounds"][-1] == 2                   # never more than the cap
    assert m["dynamic/extra_generations"][-1] == 2 * 2 * G
    assert m["dynamic/filter_rate"][-1] == 1.0
    assert m["dynamic/padded_groups"][-1] == 2
    assert math.isnan(m["dynamic/generations_per_kept_group"][-1])

    # One live group, cap 0: no extra generation, the kept group fills the flat one's slot.
    trainer.max_extra_generation_rounds = 0
    out = trainer._generate_and_score_completions(_batch(["live 0: the vampire meets a mortal.",
                                                          "flat 0: a quiet crypt."]))
    prompts = _batch_prompts(trainer, out)
    assert len(prompts) == 2 * G and all(p.startswith("live 0") for p in prompts)
    assert m["dynamic/extra_generations"][-1] == 0 and m["dynamic/padded_groups"][-1] == 1
    assert m["dynamic/filter_rate"][-1] == 0.5


def test_dynamic_sampling_off_keeps_the_batch_and_reports_the_filter_rate(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, dynamic_sampling=False)
    trainer.model.train()
    out = trainer._generate_and_score_completions(_batch(["live 0: the vampire meets a mortal.",
                                                          "flat 0: a quiet crypt."]))
    prompts = _batch_prompts(trainer, out)
    assert sum(p.startswith("flat") for p in prompts) == 4
    m = trainer._metrics["train"]
    assert m["dynamic/filter_rate"][-1] == 0.5 and m["dynamic/extra_generations"][-1] == 0


def test_training_with_dynamic_sampling_records_history(tiny_model_dir, tmp_path):
    records = []
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, on_step=records.append, max_steps=2)
    trainer.train()
    assert [r["step"] for r in records] == [1, 2] and [h["step"] for h in trainer.history] == [1, 2]
    for r in records:
        for key in ("loss", "reward_mean", "reward_std", "kl", "beta", "filter_rate", "extra_generations",
                    "tokens_per_s", "seconds"):
            assert key in r, key
        assert r["tokens_per_s"] > 0 and r["kl"] is not None
    assert trainer.dynamic_totals["steps"] == 2


# ------------------------------------------------------------------------------------------------
# KL bound
# ------------------------------------------------------------------------------------------------
def test_kl_controller_raises_relaxes_and_stops():
    c = AdaptiveKLController(beta=0.04, target=0.1, factor=2.0, stop_multiple=2.0, patience=2)
    assert c.update(0.15) is None and c.beta == pytest.approx(0.08)     # a step above target: raise at once
    assert c.update(0.03) is None and c.beta == pytest.approx(0.08)     # window mean 0.09: hold
    assert c.update(0.0) is None and c.beta == pytest.approx(0.08)      # mean 0.06, over target/2: hold
    assert c.update(0.0) is None and c.beta == pytest.approx(0.04)      # mean 0.01, under target/2: relax...
    c.update(0.0)
    assert c.beta == pytest.approx(0.04)                                 # ...never below the floor
    assert c.update(0.25) is None and c.over_streak == 1                 # > 2x target once
    assert c.update(0.05) is None and c.over_streak == 0                 # streak broken
    c.update(0.3)
    assert c.update(0.3) == STATUS_KL_BOUND                              # 2 consecutive -> stop
    state = c.state_dict()
    d = AdaptiveKLController(beta=0.04)
    d.load_state_dict(state)
    assert d.beta == c.beta and d.status == STATUS_KL_BOUND and d.over_streak == 2 and d.recent == c.recent
    fixed = AdaptiveKLController(beta=0.04, adaptive=False, patience=1)
    assert fixed.update(1.0) == STATUS_KL_BOUND and fixed.beta == 0.04
    assert AdaptiveKLController(beta=0.04).update(float("nan")) is None


def test_beta_comes_back_down_once_the_window_is_quiet():
    # the old rule relaxed only on a single step under target/4 (0.0125): these spikes ratcheted beta up
    c = AdaptiveKLController(beta=0.1, target=0.05, factor=2.0)
    for kl in [0.02, 0.02, 0.08, 0.02, 0.02, 0.02, 0.02] * 4:
        c.update(kl)
    assert c.beta == pytest.approx(0.1)


def test_kl_bound_stops_training_cleanly_with_a_status(tiny_model_dir, tmp_path):
    ctrl = AdaptiveKLController(beta=0.04, target=1e-12, factor=2.0, stop_multiple=2.0, patience=2)
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, kl_controller=ctrl, max_steps=6,
                           hp={"learning_rate": 5e-2})
    trainer.train()
    assert trainer.status == STATUS_KL_BOUND
    assert trainer.state.global_step < 6
    kls = [h["kl"] for h in trainer.history]
    assert kls[0] == 0.0 and all(k > 2e-12 for k in kls[-2:])         # LoRA starts at the base: KL 0
    assert trainer.beta > 0.04 and trainer.history[-1]["beta_next"] == trainer.beta


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------
def test_profiles_hold_the_paper_values_on_aws_and_tiny_values_locally():
    aws, local = load_srl_config("aws"), load_srl_config("local")
    assert aws["learning_rate"] == 5e-7 and aws["num_generations"] == 8 and aws["temperature"] == 1.0
    assert aws["batch_prompts"] == 512 and aws["epsilon"] == 0.2 and aws["scale_rewards"] == "group"
    assert local["learning_rate"] > aws["learning_rate"] and local["num_generations"] == 4
    for name in ("local", "aws", "test"):
        SRLHyperparameters.from_dict(load_srl_config(name))            # every profile is valid
    hp = resolve_hyperparameters({"profile": "aws", "lora_r": 4})
    assert hp.lora_r == 4 and hp.learning_rate == 5e-7
    with pytest.raises(ValueError, match="unknown SRL hyperparameter"):
        resolve_hyperparameters({"profile": "local", "learnin_rate": 1.0})
    with pytest.raises(ValueError, match="beta"):
        resolve_hyperparameters({"profile": "local", "beta": 0.0})


def test_srl_reward_function_reads_the_target_column():
    good = '<think>scare it</think>\n' + STEP.format(n=1, i=0)
    assert srl([good, "no think tag"], target=[STEP.format(n=1, i=0)] * 2) == [1.0, -1.0]
    assert srl([[{"role": "assistant", "content": good}]], target=[STEP.format(n=1, i=0)]) == [1.0]


def test_kl_bound_is_checked_on_window_means_so_one_estimator_spike_is_not_drift():
    assert window_max([0.05, 0.05, 0.58, 0.05], 3) == pytest.approx(0.68 / 3)    # a spike: 0.227, still > 0.1
    assert window_max([0.02, 0.02, 0.2, 0.02, 0.02], 3) == pytest.approx(0.08)    # diluted under the bound
    assert window_max([0.12, 0.13, 0.14], 3) == pytest.approx(0.13)               # a drift is caught
    assert window_max([0.3], 3) == 0.3 and window_max([], 3) is None


# ------------------------------------------------------------------------------------------------
# Replay of the model's own right decisions (replay_wins)
# ------------------------------------------------------------------------------------------------

def test_right_decisions_are_kept_and_replayed_with_their_own_tokens(tiny_model_dir, tmp_path):
    from pathlib import Path

    from srl_pipeline.game.rules import RuleSet
    from srl_pipeline.game.simulator import Simulator
    from srl_pipeline.game.sources import GameFiles
    from srl_pipeline.game.turn import turn_prompt

    rules = RuleSet.resolve(GameFiles(Path(__file__).resolve().parents[2] / "configs" / "game").load_rules("vampire"), [])
    state = Simulator(rules).initial_state({"trust": 2, "location": "dwelling", "time": "night"})
    prompt = turn_prompt("vampire", "extract_secret", rules, state, "- [voice] v",
                         ['1. **Hello** converse(topic=lineage) | "Good evening."'])
    expert = '2. **Of the old wars** converse(topic=old_wars) | "In the old wars I watched priests fall."'
    right = '\n<think>I will talk.</think>\n' + expert.replace("topic=old_wars", "topic=the_castle")  # same effect
    wrong = '\n<think>I will ask.</think>\n2. **Tell me** ask_secret(about=hunters) | "Tell me of the hunters."'
    trainer = make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, replay_wins=2, replay_advantage=0.5,
                           ruleset=rules)
    trainer.model.train()
    tok = trainer.processing_class
    rows = [{"prompt": prompt, "target": expert}] * 2
    ids = [tok(t, add_special_tokens=False).input_ids for t in (right, wrong)]
    trainer._calculate_rewards(rows, [prompt] * 2, [right, wrong], ids)
    assert len(trainer.wins) == 1                                      # the simulator's verdict: same effect
    trainer._calculate_rewards(rows[:1], [prompt], [right], ids[:1])
    assert len(trainer.wins) == 1                                      # the same completion is kept once

    G = trainer.num_generations
    out = trainer._generate_and_score_completions(_batch(["live 0: the vampire meets a mortal.",
                                                          "live 1: the vampire meets a mortal."]))
    assert out["completion_ids"].size(0) == 2 * G + 1                  # the batch plus the one win
    assert out["advantages"][-1].item() == pytest.approx(0.5)
    last = out["completion_ids"][-1][out["completion_mask"][-1].bool()].tolist()
    assert last == ids[0]                                              # the model's own tokens, not the expert's
    assert tok.decode(out["prompt_ids"][-1][out["prompt_mask"][-1].bool()]) == prompt
    assert "ref_per_token_logps" in out and out["ref_per_token_logps"].size(0) == 2 * G + 1
    assert int(out["num_items_in_batch"]) == int(out["completion_mask"].sum())
    state = trainer.extra_job_state()["wins"]
    trainer.wins.load_state([])
    trainer.load_extra_job_state({"wins": state})                       # a resumed job replays the same wins
    assert len(trainer.wins) == 1


def test_replay_needs_the_rules_and_sane_values(tiny_model_dir, tmp_path):
    from srl_pipeline.training.srl_trainer import run_srl
    from srl_pipeline_tests.tiny_models import tiny_spec

    with pytest.raises(ValueError, match="rules"):
        make_trainer(tiny_model_dir, tmp_path, PROMPTS, flat_or_varied, replay_wins=2)
    spec = tiny_spec(tmp_path, tiny_model_dir, hyperparameters={"profile": "test", "replay_wins": 2})
    with pytest.raises(ValueError, match=r"srl_dataset\.json: replay_wins needs the species' rules"):
        run_srl(spec)                                      # named before any model is loaded
    with pytest.raises(ValueError, match="replay_wins"):
        SRLHyperparameters(replay_wins=-1).validate()
    with pytest.raises(ValueError, match="replay_advantage"):
        SRLHyperparameters(replay_advantage=0.0).validate()
