"""Checkpoint selection on the validation split: the best scoring weights are the ones shipped."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from srl_pipeline.training.grpo.selection import CheckpointSelection  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.trained = torch.nn.Parameter(torch.zeros(3))
        self.frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)


def test_the_best_validation_score_wins_ties_go_to_the_earlier_step_and_resume_keeps_it(tmp_path):
    scores = iter([(0.0, 0.1), (0.2, 0.3), (0.2, 0.1), (0.0, 0.9), (0.2, 0.3)])
    sel = CheckpointSelection(10, lambda model, tok: next(scores), tmp_path)
    net = Net()
    for step in range(5):
        net.trained.data.fill_(float(step))
        sel.consider(step * 10, net, None)
    assert sel.best_step == 10 and sel.best_score == (0.2, 0.3)   # success first, decision accuracy breaks ties
    assert [p["step"] for p in sel.curve] == [0, 10, 20, 30, 40]
    sel.restore(net)
    assert torch.equal(net.trained, torch.full((3,), 1.0)) and torch.equal(net.frozen, torch.ones(2))

    resumed = CheckpointSelection(10, lambda model, tok: (0.0, 0.0), tmp_path)   # a restarted job
    resumed.load_state(sel.state())
    other = Net()
    resumed.restore(other)                                   # the weights come back from the file
    assert torch.equal(other.trained, torch.full((3,), 1.0))
    assert resumed.summary()["best_step"] == 10 and resumed.summary()["best_validation_success"] == 0.2


def test_no_improvement_over_the_start_ships_the_start(tmp_path):
    scores = iter([(0.5, 0.5), (0.0, 0.2), (0.5, 0.4)])
    sel = CheckpointSelection(5, lambda model, tok: next(scores), tmp_path)
    net = Net()
    for step in range(3):
        net.trained.data.fill_(float(step) + 7)
        sel.consider(step * 5, net, None)
    sel.restore(net)
    assert sel.best_step == 0 and torch.equal(net.trained, torch.full((3,), 7.0))


class Drift(torch.nn.Module):
    """One trainable weight that gradient descent moves by a known amount each step."""

    def __init__(self):
        super().__init__()
        self.trained = torch.nn.Parameter(torch.zeros(3))

    def forward(self, x, labels=None):
        return {"loss": -(self.trained * x).sum()}


def test_every_stage_trainer_selects_after_its_own_callbacks_and_checkpoints_the_selection(tmp_path):
    """A stage's own callback that stops training (the KL bound) runs before the selection, so the
    stopping step is scored; the selection's state rides in the job state and comes back on resume."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from srl_pipeline.training.grpo.selection import SelectsCheckpoints
    from srl_pipeline.training.trainer_state import JobStateMixin

    class StopAtStep3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                control.should_training_stop = True
            return control

    class StageTrainer(SelectsCheckpoints, JobStateMixin, Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(StopAtStep3())   # like GRPOStageTrainer's KL bound, added after the base init

    # the score grows with the weight (0.1 per step), so shipping step 3's weights proves step 3 was scored
    sel = CheckpointSelection(5, lambda model, tok: (round(float(model.trained[0]), 3), 0.0), tmp_path / "sel")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=10, learning_rate=0.1, optim="sgd",
                             per_device_train_batch_size=1, lr_scheduler_type="constant", max_grad_norm=0.0,
                             report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True, disable_tqdm=True)
    data = [{"x": torch.ones(3)} for _ in range(10)]

    def stage_trainer(selection):
        return StageTrainer(model=Drift(), args=args, train_dataset=data, selection=selection,
                            data_collator=lambda rows: {"x": torch.stack([r["x"] for r in rows]).sum(0)})

    trainer = stage_trainer(sel)
    trainer.train()
    assert [p["step"] for p in sel.curve] == [0, 3]
    assert sel.best_step == 3 and torch.allclose(trainer.model.trained, torch.full((3,), 0.3))

    state = trainer.job_state()["selection"]
    assert state["best_step"] == 3 and [p["step"] for p in state["curve"]] == [0, 3]
    fresh = CheckpointSelection(5, lambda model, tok: (0.0, 0.0), tmp_path / "sel")
    again = stage_trainer(fresh)
    again.load_job_state(trainer.job_state())
    assert again.selection_summary()["best_step"] == 3
