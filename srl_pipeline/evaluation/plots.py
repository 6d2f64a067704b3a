"""Plots as PNG bytes (matplotlib's Agg canvas: no display, no pyplot state): the comparison of
models on held-out scenarios and a training job's reward and KL curves. Callers embed or write
the bytes (the Dagster layer as markdown metadata, the report as files)."""

from __future__ import annotations

import io
from typing import Any

from ..core.catalogue import label

__all__ = ["comparison_plot", "learning_curves", "tier_plot", "training_curves"]

# The title of a training job's reward curve, per stage (SFT has a loss, no reward).
CURVE_TITLES = {"srl": "SRL reward", "rlvr": "plan reward", "sft": "loss", "distill": "loss (NLL, then KL to teacher)"}


def _png(fig: Any, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **kwargs)
    return buf.getvalue()


def comparison_plot(results_for_species: dict[str, dict[str, Any]], models: list[str], title: str | None = None) -> bytes:
    """A PNG bar chart: greedy success and avg@k success (percent) per model, in ``models``' order
    (a model without results is drawn empty)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.3 * len(models) + 2), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    xs = list(range(len(models)))
    width = 0.38
    greedy = [100 * ((results_for_species.get(m) or {}).get("success_greedy") or 0.0) for m in models]
    avgk = [100 * ((results_for_species.get(m) or {}).get("success_avg_k") or 0.0) for m in models]
    ks = {(results_for_species.get(m) or {}).get("k") for m in models} - {None}
    k_label = f"avg@{ks.pop()}" if len(ks) == 1 else "avg@k"
    b1 = ax.bar([x - width / 2 for x in xs], greedy, width, label="greedy", color="#4C72B0")
    b2 = ax.bar([x + width / 2 for x in xs], avgk, width, label=k_label, color="#DD8452")
    for bars in (b1, b2):
        for bar in bars:
            ax.annotate(f"{bar.get_height():.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels([label(m) for m in models])
    ax.set_ylabel("plan success (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title or "Full-plan success on held-out scenarios")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def training_curves(metrics: dict[str, Any], kl_target: float = 0.1) -> bytes | None:
    """A training job's reward (SFT: loss) and KL-to-the-reference curves per step, side by side,
    as a PNG, from its ``metrics.json`` (``history``: one dict per logged step, ``stage``); the
    KL target is a dashed line. None when there is no history."""
    history = metrics.get("history", [])
    if not history:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [h.get("step") for h in history]
    fig = Figure(figsize=(8, 3))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    axes[0].plot(steps, [h.get("reward_mean") if "reward_mean" in h and h.get("reward_mean") is not None
                         else h.get("loss") for h in history])
    axes[0].set_title(CURVE_TITLES.get(metrics.get("stage"), "reward"))
    axes[1].plot(steps, [h.get("kl") for h in history])
    axes[1].axhline(kl_target, linestyle="--", color="grey")
    axes[1].set_title("KL to the reference")
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    return _png(fig, dpi=80)


def learning_curves(jobs: dict[str, dict[str, Any]], title: str, kl_target: float = 0.1) -> bytes | None:
    """Several training jobs of one species (label -> ``metrics.json``) against CPU seconds: the
    training reward (SFT has a loss, not a reward: it appears in the KL panel only when it has a KL) and the KL to each job's reference. None when no job has a history."""
    jobs = {name: m for name, m in jobs.items() if m.get("history")}
    if not jobs:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.2))
    FigureCanvasAgg(fig)
    reward_ax, kl_ax, val_ax = fig.subplots(1, 3)
    for name, metrics in jobs.items():
        history = metrics["history"]
        seconds = [h.get("elapsed_s") for h in history]
        if metrics.get("stage") != "sft":
            reward_ax.plot(seconds, [h.get("reward_mean") for h in history], label=name)
        kls = [h.get("kl") for h in history]
        if any(k is not None for k in kls):
            kl_ax.plot(seconds, kls, label=name)
        curve = (metrics.get("selection") or {}).get("curve") or []
        if curve:  # the validation scores of the checkpoint selection, at the seconds their step was reached
            at = {h.get("step"): h.get("elapsed_s") for h in history}
            xs = [at.get(p["step"], 0.0) if p["step"] else 0.0 for p in curve]
            line = val_ax.plot(xs, [100 * p["decision_accuracy"] for p in curve], marker="o", label=name)[0]
            val_ax.plot(xs, [100 * p["validation_success"] for p in curve], linestyle="--", color=line.get_color())
    reward_ax.set_title(f"{title}: training reward")
    kl_ax.set_title("KL to the reference (per token)")
    kl_ax.axhline(kl_target, linestyle="--", color="grey")
    val_ax.set_title("validation: decision accuracy (solid), plan success (dashed), %", fontsize=9)
    for ax in (reward_ax, kl_ax, val_ax):
        ax.set_xlabel("training seconds (CPU)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig, dpi=80)


def tier_plot(by_tier: dict[str, dict[str, Any]]) -> bytes:
    """A PNG of the served tiers side by side (label -> evaluation result): greedy success and step
    similarity (percent), parameters (millions) and latency per turn (ms), one panel each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = (("success_greedy", "greedy success (%)", 100.0), ("step_similarity", "step similarity (%)", 100.0),
              ("parameters", "parameters (M)", 1e-6), ("latency_ms_per_turn", "latency (ms/turn)", 1.0))
    fig = Figure(figsize=(11, 2.8), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels))
    names = list(by_tier)
    for ax, (metric, title, scale) in zip(axes, panels):
        values = [scale * float(by_tier[n].get(metric) or 0.0) for n in names]
        bars = ax.bar(names, values, color=["#8C564B", "#7F7F7F", "#BCBD22"][: len(names)])
        ax.set_title(title, fontsize=9)
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)
