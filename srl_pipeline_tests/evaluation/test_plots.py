"""Plots are PNG bytes: the comparison of models and a training job's curves."""

from __future__ import annotations

from srl_pipeline.evaluation.plots import comparison_plot, training_curves

PNG = b"\x89PNG\r\n\x1a\n"


def test_comparison_plot_is_a_png():
    png = comparison_plot({"base": {"success_greedy": 0.1, "success_avg_k": 0.05, "k": 4},
                           "srl_rlvr": {"success_greedy": 0.6, "success_avg_k": 0.5, "k": 4}},
                          ["base", "sft", "srl_rlvr"])
    assert png[:8] == PNG and len(png) > 1000


def test_training_curves_are_a_png():
    srl = {"stage": "srl", "history": [{"step": s, "reward_mean": s / 10, "kl": 0.01 * s} for s in range(1, 6)]}
    png = training_curves(srl)
    assert png[:8] == PNG and len(png) > 1000
    # 8 x 3 inches at 80 dpi
    assert int.from_bytes(png[16:20], "big") == 640 and int.from_bytes(png[20:24], "big") == 240
    # SFT logs a loss, no reward; a missing KL is left out of the curve
    sft = {"stage": "sft", "history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "kl": None}]}
    assert training_curves(sft)[:8] == PNG


def test_training_curves_without_history_is_none():
    assert training_curves({"stage": "rlvr", "history": []}) is None
    assert training_curves({}) is None


def test_learning_curves_plot_the_jobs_that_have_a_history():
    from srl_pipeline.evaluation.plots import learning_curves

    history = [{"step": i, "elapsed_s": 2.0 * i, "reward_mean": 0.1 * i, "kl": 0.01 * i} for i in range(1, 5)]
    png = learning_curves({"SRL": {"stage": "srl", "history": history}, "SFT": {"stage": "sft", "history": history},
                           "RLVR": {"stage": "rlvr", "history": []}}, "vampire")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert learning_curves({"RLVR": {"stage": "rlvr", "history": []}}, "vampire") is None
