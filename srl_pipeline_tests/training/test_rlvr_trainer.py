"""RLVR: whole plans rolled out and judged by the simulator, dynamic sampling on scenarios, the
SRL adapter as the KL reference, and the same entrypoint / checkpoints / outputs as SRL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.game.rules import RuleSet, ruleset_to_artifact  # noqa: E402
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios  # noqa: E402
from srl_pipeline.game.sources import GameFiles  # noqa: E402
from srl_pipeline.training import entrypoint  # noqa: E402
from srl_pipeline.training.plan_rollout import PlanRollout, PlanTask, Turn  # noqa: E402
from srl_pipeline.training.rlvr_config import CONFIG_PATH, RLVRHyperparameters  # noqa: E402
from srl_pipeline.training.rlvr_trainer import RLVRTrainer, load_plan_tasks  # noqa: E402
from srl_pipeline.training.srl_config import resolve_hyperparameters  # noqa: E402
from srl_pipeline_tests.tiny_models import tiny_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "configs" / "game"


def write_plan_dataset(path: Path, n: int = 10) -> Path:
    """An srl_dataset-shaped artifact: real vampire rules and scenarios, short prompt texts (the
    tiny test model has 512 positions)."""
    files = GameFiles(ROOT)
    world = files.load_world()
    ruleset = RuleSet.resolve(files.load_rules("vampire", world), [])
    scenarios = generate_scenarios(ruleset, ScenarioSpec(count=n, seed=2), world.player_profiles)
    tasks = []
    for i, sc in enumerate(scenarios):
        sc.split = "validation" if i % 5 == 4 else "train"
        tasks.append({"split": sc.split, "goal": sc.goal,
                      **PlanTask(sc, f"Goal: {sc.goal}", "- vampires hate garlic").to_record()})
    path.write_text(json.dumps({"species": "vampire", "examples": [], "plan_tasks": tasks,
                                "rules": ruleset_to_artifact(ruleset)}), encoding="utf-8")
    return path


def make_adapter(model_dir: Path, out: Path, scale: float = 0.05) -> Path:
    """A LoRA adapter with non-zero B (so the adapted model differs from the base), as SRL leaves one."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from srl_pipeline.training.job_runner import lora_config
    from srl_pipeline.training.srl_config import SRLHyperparameters

    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), lora_config(SRLHyperparameters()))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, scale)
    model.save_pretrained(out)
    return out


def rlvr_spec(tmp: Path, model_dir: Path, **overrides):
    hp = {"profile": "test", "max_completion_length": 8, "validation_max_new_tokens": 8, "max_plan_steps": 2,
          "validation_tasks": 2, "progress_credit": 0.1}
    return tiny_spec(tmp, model_dir, stage="rlvr", dataset=str(write_plan_dataset(tmp / "plan_dataset.json")),
                     hyperparameters=hp, **overrides)


def test_profiles_are_valid_and_aws_is_outcome_only():
    for name in ("local", "aws", "test"):
        hp = resolve_hyperparameters({"profile": name}, RLVRHyperparameters, CONFIG_PATH)
        assert 0 < hp.kl_target <= 0.1 and hp.dynamic_sampling
    assert resolve_hyperparameters({"profile": "aws"}, RLVRHyperparameters, CONFIG_PATH).progress_credit == 0.0
    with pytest.raises(ValueError, match="progress_credit"):
        resolve_hyperparameters({"profile": "local", "progress_credit": 1.0}, RLVRHyperparameters, CONFIG_PATH)


def test_rlvr_job_from_an_srl_adapter_runs_through_the_entrypoint(tiny_model_dir, tmp_path, capsys):
    adapter = make_adapter(tiny_model_dir, tmp_path / "srl_adapter")
    spec = rlvr_spec(tmp_path, tiny_model_dir, initial_adapter=str(adapter), max_steps=2, checkpoint_every_steps=1)
    assert entrypoint.main(["--spec", str(spec.save(tmp_path / "spec.json"))]) == entrypoint.EXIT_OK
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2]
    assert all(e["kl"] is not None and e["kl"] >= 0 and "success_rate" in e for e in steps)
    metrics = json.loads((Path(spec.output_dir) / "metrics.json").read_text())
    assert metrics["stage"] == "rlvr" and metrics["status"] == "completed" and metrics["global_step"] == 2
    assert metrics["kl_reference"] == "initial_adapter"
    for key in ("validation_success_reference", "validation_success_trained", "filter_rate", "kl_max"):
        assert key in metrics
    assert 0.0 <= metrics["validation_success_trained"] <= 1.0
    assert (Path(spec.output_dir) / "adapter_model.safetensors").is_file()


def test_the_before_and_after_score_reuses_the_plays_of_the_checkpoint_selection(tmp_path):
    import dataclasses

    from srl_pipeline.training.grpo.selection import CheckpointSelection
    from srl_pipeline.training.rlvr_trainer import selection_scores

    scores = iter([(0.25, 0.1), (0.5, 0.2), (0.0, 0.3)])
    selection = CheckpointSelection(5, lambda model, tok: next(scores), tmp_path)
    for step in (0, 5, 10):
        selection.consider(step, torch.nn.Linear(2, 2), None)
    hp = resolve_hyperparameters({"profile": "local"}, RLVRHyperparameters, CONFIG_PATH)
    assert selection_scores(selection, hp.validation_tasks, hp) == (0.25, 0.5)   # step 0, the shipped step 5
    assert selection_scores(selection, hp.validation_tasks + 1, hp) is None     # the score plays a subset
    assert selection_scores(None, 3, hp) is None                                # no selection (torchrun)
    longer = dataclasses.replace(hp, select_max_plan_steps=hp.max_plan_steps + 2)
    assert selection_scores(selection, 3, longer) is None                       # other turn limits, other plays


def _trainer(model_dir: Path, tmp: Path, adapter: Path | None, rollout=None, **hp_overrides):
    from datasets import Dataset
    from peft import PeftModel

    from srl_pipeline.training.base_models import load_base_model
    from srl_pipeline.training.job_runner import lora_config
    from srl_pipeline.training.rewards import simulator
    from srl_pipeline.training.srl_config import build_grpo_config

    spec = rlvr_spec(tmp, model_dir)
    hp = resolve_hyperparameters({**spec.hyperparameters, **hp_overrides}, RLVRHyperparameters, CONFIG_PATH)
    by_split, ruleset = load_plan_tasks(spec.dataset)
    model, tok = load_base_model(str(model_dir))
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    train = by_split["train"]
    ds = Dataset.from_list([{"prompt": t.prompt([]), "task": i} for i, t in enumerate(train)])
    return RLVRTrainer(model=model, reward_funcs=simulator, args=build_grpo_config(spec, hp), train_dataset=ds,
                       processing_class=tok, peft_config=None if adapter else lora_config(hp), tasks=train,
                       ruleset=ruleset, hp=hp, rollout=rollout), tok


def _plans(task: int, rewards: list[float], turns: int = 2) -> list[PlanRollout]:
    """Scripted plans; a reward of 1 is a win (a plan that differs by its sample number)."""
    return [PlanRollout(task, j, "g", [Turn(f"prompt {task} {k}", "x", [5 + k] * (k + 1), f"{k + 1}. **S{j}** x")
                                       for k in range(turns)],
                        outcome="success" if r == 1.0 else "unfinished", reward=r) for j, r in enumerate(rewards)]


def test_dynamic_sampling_drops_flat_scenarios_and_every_turn_gets_its_plan_advantage(tiny_model_dir, tmp_path):
    scripted = {0: [0.0, 0.0, 0.0, 0.0], 1: [1.0, 0.0, 0.0, 0.0]}
    calls: list[list[int]] = []

    def fake_rollout(task_ids):
        calls.append(list(task_ids))
        return [_plans(t, scripted.get(t, [0.0, 1.0, 1.0, 0.0])) for t in task_ids]

    trainer, _ = _trainer(tiny_model_dir, tmp_path, None, rollout=fake_rollout, negative_advantages=True,
                          replay_wins=0, search_samples=0)   # plain GRPO
    inputs = [{"task": t, "prompt": "p"} for t in (0, 1) for _ in range(4)]
    out = trainer._generate_and_score_completions(inputs)
    assert calls[0] == [0, 1] and len(calls) >= 2                            # task 0 flat: fresh scenarios...
    assert all(len(c) == 1 for c in calls[1:])                                 # ...one at a time, as needed
    assert trainer.dynamic_totals["dropped_groups"] >= 1
    assert out["completion_ids"].shape[0] == 2 * 4 * 2                       # 2 groups x 4 plans x 2 turns
    adv = out["advantages"].view(2, 4, 2)
    assert torch.equal(adv[..., 0], adv[..., 1])                               # both turns of a plan
    assert adv[0, 0, 0] > 0 and adv[0, 1, 0] < 0                               # task 1: the success leads
    assert torch.allclose(adv.sum(dim=(1, 2)), torch.zeros(2), atol=1e-4)      # z-scored per scenario
    assert out["completion_mask"][0].sum() == 1 and out["completion_mask"][1].sum() == 2
    assert "ref_per_token_logps" in out


def test_the_kl_reference_is_the_srl_adapter_not_the_base(tiny_model_dir, tmp_path):
    adapter = make_adapter(tiny_model_dir, tmp_path / "srl", scale=0.2)
    trainer, tok = _trainer(tiny_model_dir, tmp_path, adapter)
    ids = tok(["Goal: x and more words"], return_tensors="pt")
    prompt_ids, prompt_mask = ids["input_ids"], ids["attention_mask"]
    completion_ids = torch.tensor([[5, 6, 7]])
    completion_mask = torch.ones_like(completion_ids)
    ref = trainer._reference_logps(prompt_ids, prompt_mask, completion_ids, completion_mask)

    from peft import PeftModel

    from srl_pipeline.training.base_models import load_base_model

    def logps(model):  # TRL scores log-probs at the sampling temperature, for the policy and the reference
        with torch.no_grad():
            logits = model(input_ids=torch.cat([prompt_ids, completion_ids], 1)).logits[:, -4:-1]
        return torch.log_softmax(logits / trainer.temperature, -1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)

    base, _ = load_base_model(str(tiny_model_dir))
    srl = PeftModel.from_pretrained(load_base_model(str(tiny_model_dir))[0], str(adapter))
    assert torch.allclose(ref, logps(srl), atol=1e-4)
    assert not torch.allclose(ref, logps(base), atol=1e-4)


def test_group_advantages_z_score_or_only_centre_the_rewards():
    from srl_pipeline.training.rlvr_trainer import group_advantages

    credit_only = torch.tensor([0.1, 0.0, 0.0, 0.0])          # no win: plays differ by a little progress credit
    win = torch.tensor([1.0, 0.0, 0.0, 0.0])
    z = group_advantages(credit_only, "group")
    assert torch.allclose(z, group_advantages(win, "group"), atol=1e-2)   # z-scored: as loud as a win
    centred = group_advantages(credit_only, "none")
    assert torch.allclose(centred, torch.tensor([0.075, -0.025, -0.025, -0.025]))
    assert torch.allclose(group_advantages(win, "none"), 10 * centred)    # a win speaks ten times louder
    assert float(group_advantages(torch.tensor([0.3, 0.3]), "group").abs().sum()) == 0.0


def test_scale_rewards_is_group_or_none():
    for value in ("group", "none"):
        assert resolve_hyperparameters({"profile": "local", "scale_rewards": value}, RLVRHyperparameters,
                                       CONFIG_PATH).scale_rewards == value
    with pytest.raises(ValueError, match="scale_rewards must be one of group, none"):
        resolve_hyperparameters({"profile": "local", "scale_rewards": "batch"}, RLVRHyperparameters, CONFIG_PATH)


def test_verified_wins_are_kept_and_replayed_with_a_positive_advantage(tiny_model_dir, tmp_path):
    def fake_rollout(task_ids):   # plans numbered by their place in this call, as rollout_plans numbers them
        return [_plans(g, [1.0, 0.0, 0.0, 0.0]) for g, _ in enumerate(task_ids)]

    trainer, _ = _trainer(tiny_model_dir, tmp_path, None, rollout=fake_rollout, replay_wins=3, replay_advantage=0.5,
                          negative_advantages=False)
    inputs = [{"task": t, "prompt": "p"} for t in (2, 5) for _ in range(4)]
    out = trainer._generate_and_score_completions(inputs)
    assert len(trainer.wins) == 2 and {w["task"] for w in trainer.wins.state()} == {2, 5}
    assert trainer.wins.state()[0]["turns"][0] == ["prompt 0 0", [5]]           # the turns as the policy wrote them
    rows = out["advantages"]
    assert rows.shape[0] == 2 * 4 * 2 + 2 * 2                                   # groups, then 2 wins x 2 turns
    assert torch.all(rows[-4:] == 0.5)                                          # replayed at replay_advantage
    assert float(rows.min()) == 0.0 and float(rows[:16].max()) > 0             # no push away from a failure
    assert trainer._metrics["train"]["rlvr/wins_buffer"][-1] == 2.0
    # the same win again is not a new one; the buffer survives a checkpoint round trip
    trainer._generate_and_score_completions(inputs)
    assert len(trainer.wins) == 2 and trainer._metrics["train"]["rlvr/new_wins"][-1] == 0.0
    again, _ = _trainer(tiny_model_dir, tmp_path, None, rollout=fake_rollout, replay_wins=3)
    again.load_extra_job_state(trainer.extra_job_state())
    assert again.wins.state() == trainer.wins.state()


def test_the_search_fills_the_buffer_from_sampled_plans_before_the_first_step(tiny_model_dir, tmp_path):
    trainer, _ = _trainer(tiny_model_dir, tmp_path, None, rollout=lambda ids: [_plans(t, [0.0, 0.0, 0.0, 0.1])
                                                                                for t in ids],
                          replay_wins=2, search_samples=3)
    assert not trainer.search_done
    trainer._generate_and_score_completions([{"task": 0, "prompt": "p"}] * 4)
    assert trainer.search_done and trainer.search_stats["plays"] == 3 * len(trainer.tasks)
    assert trainer.search_stats["wins_kept"] == len(trainer.wins) <= trainer.search_stats["successes"]
    with pytest.raises(ValueError, match="search_samples needs replay_wins"):
        resolve_hyperparameters({"profile": "local", "replay_wins": 0}, RLVRHyperparameters, CONFIG_PATH)
