"""Results as text: the markdown table (the paper's Table 1 style) and the experiment report.

The report is the paper's Table 1 on our game (base / SFT / RLVR-only / SRL / SRL→RLVR, per
species and averaged), written with its plots to ``<artifacts>/report/``. It reads the evaluation
artifacts the pipeline wrote (``model_evaluation/<species>.json`` for the production models,
``experiment_evaluation/<species>.json`` for the baselines), so it always describes exactly what
was evaluated; a model that was not evaluated shows as "—". Models are labelled and ordered as
in :mod:`srl_pipeline.core.catalogue`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_bytes, atomic_write_json
from ..core.catalogue import MODELS, label, table_columns
from ..core.layout import ArtifactLayout
from .paired_bootstrap import margin_interval
from .plots import comparison_plot, learning_curves

__all__ = ["METRICS", "PERCENT_METRICS", "SOURCES", "collect_results", "results_table", "share_of", "tier_table",
           "write_report"]

# Metrics in [0, 1] shown as percentages by results_table; the others are shown as numbers.
PERCENT_METRICS = frozenset({"success_greedy", "success_avg_k", "handwritten_success_greedy", "step_similarity",
                             "format_error_rate", "repeated_line_rate"})


def _cell(value: Any, metric: str) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}" if metric in PERCENT_METRICS else f"{value:.3f}"


def results_table(results: dict[str, dict[str, dict[str, Any]]], models: list[str],
                  metric: str = "success_greedy") -> str:
    """A markdown table (the paper's Table 1 style): one row per species (in ``results``' order)
    and an "average" row (the mean over the species that have the cell), one column per model in
    the order of ``models``. Fractions (:data:`PERCENT_METRICS`) are percentages with one decimal,
    other metrics numbers with three; a missing cell is "—". The first header cell names the metric."""
    labels = [label(m) for m in models]
    unit = ", %" if metric in PERCENT_METRICS else ""
    lines = [f"| species ({metric}{unit}) | {' | '.join(labels)} |", "|---|" + "---:|" * len(models)]
    columns: dict[str, list[float]] = {m: [] for m in models}
    for species, by_model in results.items():
        cells = []
        for m in models:
            v = (by_model.get(m) or {}).get(metric)
            if v is not None:
                columns[m].append(float(v))
            cells.append(_cell(v, metric))
        lines.append(f"| {species} | {' | '.join(cells)} |")
    avg = [_cell(sum(columns[m]) / len(columns[m]) if columns[m] else None, metric) for m in models]
    lines.append(f"| average | {' | '.join(avg)} |")
    return "\n".join(lines) + "\n"


SOURCES = ("model_evaluation", "experiment_evaluation")
METRICS = (("success_greedy", "Full-plan success, greedy (%)"),
           ("success_avg_k", "Full-plan success, avg@k sampled at temperature 1.0 (%)"),
           ("handwritten_success_greedy", "Hand-written encounters (configs/eval/): full-plan success, greedy (%)"),
           ("step_similarity", "Mean step similarity to the expert (%)"),
           ("format_error_rate", "Format-error rate (% of turns)"),
           ("repeated_line_rate", "Repeated lines (% of greedy turns after a play's first that repeat its earlier line)"),
           ("kl_to_base", "KL to the base model (per token)"))


def collect_results(artifacts_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """species -> model -> metrics, from the evaluation artifacts (sorted by species)."""
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for source in SOURCES:
        folder = Path(artifacts_dir) / source
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            data = json.loads(path.read_text(encoding="utf-8"))
            results.setdefault(data["species"], {}).update(data["models"])
    return dict(sorted(results.items()))


def _average(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in table_columns():
        for metric in ("success_greedy", "success_avg_k"):
            vals = [r[m][metric] for r in results.values() if m in r and r[m].get(metric) is not None]
            if vals:
                out.setdefault(m, {})[metric] = sum(vals) / len(vals)
        ks = {r[m].get("k") for r in results.values() if m in r}
        if m in out and len(ks) == 1:
            out[m]["k"] = ks.pop()
    return out


RECIPES = ("srl_rlvr", "sft", "rlvr_only")  # what the paper compares: SRL -> RLVR against its baselines


def verdict(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One plain paragraph: which recipe wins on greedy test success averaged over the species, by
    how much (with a paired bootstrap interval over the test scenarios where the evaluations keep
    per-scenario outcomes), and where the base and the reference rows stand."""
    avg = {m: v["success_greedy"] for m, v in _average(results).items() if v.get("success_greedy") is not None}
    ranked = sorted((m for m in RECIPES if m in avg), key=lambda m: -avg[m])
    if not ranked:
        return "No recipe has been evaluated yet."
    best = ranked[0]
    intervals = {m: margin_interval(results, best, m) for m in ranked[1:]}   # None: no per-scenario outcomes
    within_noise = [label(m) for m, ci in intervals.items() if ci is not None and ci[0] <= 0.0]
    parts = [f"{label(best)} {'leads' if within_noise else 'wins'} with {100 * avg[best]:.1f} % greedy success on "
             f"the held-out test split (average over {len(results)} species)"]
    others = [f"{label(m)} by {100 * (avg[best] - avg[m]):.1f} points"
              + ("" if ci is None else f" (95 % interval {100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})")
              for m, ci in intervals.items()]
    if others:
        parts.append("ahead of " + " and ".join(others))
    sentence = ", ".join(parts) + "."
    if any(ci is not None for ci in intervals.values()):
        sentence += " Intervals: a paired bootstrap over the test scenarios."
    if within_noise:
        sentence += (f" The lead over {' and '.join(within_noise)} is within what the choice of test scenarios "
                     "moves: not a win.")
    refs = [f"{label(m)} {100 * avg[m]:.1f} %" for m in ("base", "random_legal", "solver") if m in avg]
    sentence += f" For reference: {', '.join(refs)}." if refs else ""
    if "random_legal" in avg:   # the calibration a reader needs first: does the winner play better than chance?
        gap = 100 * (avg[best] - avg["random_legal"])
        sentence += (f" {label(best)} beats a random legal policy by {gap:.1f} points." if gap > 0.05 else
                     f" No recipe plays better than a random legal policy yet ({label(best)} "
                     f"{'ties it' if gap > -0.05 else f'is {-gap:.1f} points below it'}).")
    return sentence


def write_report(artifacts_dir: Path) -> dict[str, Any]:
    """Write ``report.md`` (tables and weakness reports), ``report.json`` and one PNG per species
    plus the average; returns ``{"results", "table", "path"}`` (``table``: greedy success)."""
    artifacts_dir = Path(artifacts_dir)
    out = artifacts_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = collect_results(artifacts_dir)
    every = list(table_columns())  # every model's column, in the table order
    models = [m for m in every if any(m in r for r in results.values())] or every
    table = results_table(results, every, "success_greedy")
    lines = ["# SRL → RLVR on the game: held-out test scenarios", "",
             "The paper's Table 1 (arXiv 2510.25992) on this game: full plans written step by step by each "
             "model and judged by the simulator, on each species' held-out test split, beside two reference "
             "rows: a random legal policy (what knowing only the rules gives) and the solver (the ceiling).", "",
             f"**{verdict(results)}**", ""]
    for metric, title in METRICS:
        lines += [f"## {title}", "", results_table(results, every, metric)]
    plots = {"average": comparison_plot(_average(results), models, title="All species: held-out test split")}
    for species, by_model in results.items():
        plots[species] = comparison_plot(by_model, models, title=f"{species}: held-out test split")
    lines += ["## Learning curves", "",
              "Training reward (SRL: step similarity; RLVR: plan reward), KL to the reference and the validation "
              "scores of the checkpoint selection (decision accuracy and plan success, every `select_every` steps) "
              "against the training job's CPU seconds, per species.", ""]
    layout = ArtifactLayout(artifacts_dir)
    for species in results:
        jobs = {}
        for m in MODELS:
            metrics_path = layout.adapter(m.adapter_asset, species) / "metrics.json" if m.adapter_asset else None
            if metrics_path is not None and metrics_path.is_file():
                jobs[m.label] = json.loads(metrics_path.read_text(encoding="utf-8"))
        png = learning_curves(jobs, species)
        if png is not None:
            atomic_write_bytes(out / f"curves-{species}.png", png)
            lines.append(f"![curves {species}](curves-{species}.png)")
    lines += ["", "## Plots", ""]
    for name, png in plots.items():
        atomic_write_bytes(out / f"{name}.png", png)
        lines.append(f"![{name}]({name}.png)")
    lines += ["", "## Weakness report (top failure modes)", ""]
    for species, by_model in results.items():
        lines.append(f"### {species}")
        for m in models:
            if m in by_model:
                modes = "; ".join(by_model[m].get("weakness", {}).get("top_failure_modes", [])) or "no failures"
                lines.append(f"- {label(m)}: {modes}")
        lines.append("")
    path = out / "report.md"
    atomic_write_bytes(path, "\n".join(lines).encode("utf-8"))
    atomic_write_json(out / "report.json", {"models": every, "results": results})
    return {"results": results, "table": table, "path": path, "verdict": verdict(results)}


def share_of(value: Any, bronze: Any) -> float | None:
    """``value`` as a share of Bronze's (a student's success or parameters against its cascade's top
    tier); None when either is missing or Bronze's is 0 (no share to keep of nothing)."""
    if not isinstance(value, (int, float)) or not isinstance(bronze, (int, float)) or not bronze:
        return None
    return float(value) / float(bronze)


TIER_COLUMNS = (("success_greedy", "success greedy (%)"), ("step_similarity", "step similarity (%)"),
                ("parameters", "parameters"), ("latency_ms_per_turn", "latency (ms/turn)"))


def tier_table(results: dict[str, dict[str, dict[str, Any]]], tier_models: dict[str, str]) -> str:
    """The served tiers per species (and averaged): success, step similarity, parameters, latency,
    and each student's share of Bronze's success and parameters (the cascade's targets)."""
    head = ["species", "tier"] + [h for _, h in TIER_COLUMNS] + ["% of Bronze's success", "% of Bronze's parameters"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    sums: dict[str, dict[str, list[float]]] = {}
    for species, by_model in list(results.items()) + [("average", None)]:
        for tier, model in tier_models.items():
            if by_model is None:
                r = {m: sum(v) / len(v) for m, v in sums.get(tier, {}).items() if v}
                bronze = {m: sum(v) / len(v) for m, v in sums.get("bronze", {}).items() if v}
            else:
                r = by_model.get(model) or {}
                bronze = by_model.get(tier_models["bronze"]) or {}
                for metric, _ in TIER_COLUMNS:
                    if isinstance(r.get(metric), (int, float)):
                        sums.setdefault(tier, {}).setdefault(metric, []).append(float(r[metric]))
            if not r:
                continue
            cells = []
            for metric, _ in TIER_COLUMNS:
                v = r.get(metric)
                cells.append("—" if v is None else f"{100 * v:.1f}" if metric in PERCENT_METRICS
                             else f"{v / 1e6:.2f}M" if metric == "parameters" else f"{v:.1f}")
            for metric in ("success_greedy", "parameters"):
                share = share_of(r.get(metric), bronze.get(metric))
                cells.append("—" if share is None else f"{100 * share:.0f}")
            lines.append(f"| {species} | {label(model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
