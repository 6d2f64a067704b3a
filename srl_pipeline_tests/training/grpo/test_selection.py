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
