"""Metadata the Dagster UI shows on an asset's page without a click: tables
(`MetadataValue.table`, always inline), short markdown (inline under 1,000 characters: the SVG
curves and bars of `evaluation.inline_plots`) and plain numbers (plotted across materialisations
in the asset's Plots tab). Long markdown (the PNGs) stays beside them for detail."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ..core.catalogue import label
from ..evaluation.inline_plots import INLINE_LIMIT, bars_markdown, sparkline_markdown
from ..evaluation.report import PERCENT_METRICS

# Columns of a model table: metric -> header (with its unit).
MODEL_COLUMNS = {"success_greedy": "success greedy (%)", "success_avg_k": "success avg@k (%)",
                 "handwritten_success_greedy": "hand-written, greedy (%)", "step_similarity": "step similarity (%)",
                 "format_error_rate": "format errors (% of turns)",
                 "repeated_line_rate": "repeated lines (% of turns)", "kl_to_base": "KL to base (per token)",
                 "parameters": "parameters", "latency_ms_per_turn": "latency (ms/turn)"}


def _cell(value: Any, metric: str) -> float | None:
    if not isinstance(value, (int, float)):
        return None
    return round(100 * value, 1) if metric in PERCENT_METRICS else round(float(value), 4)


def inline_md(text: str | None) -> str | None:
    """``text`` when it is short enough for the UI to render inline, else None."""
    return text if text is not None and len(text) < INLINE_LIMIT else None


def curve_metadata(metrics: dict, kl_bound: float) -> dict[str, dg.MetadataValue]:
    """A training job's curves from its metrics.json history: the reward (SFT: the loss) and the KL
    to the reference (dashed: the bound), each an inline sparkline with first/last/min/max."""
    history = metrics.get("history") or []
    out: dict[str, dg.MetadataValue] = {}
    rewards = [h.get("reward_mean") for h in history]
    if any(r is not None for r in rewards):
        text = inline_md(sparkline_markdown(rewards, "reward"))
        if text:
            out["reward curve"] = dg.MetadataValue.md(text)
    else:
        text = inline_md(sparkline_markdown([h.get("loss") for h in history], "loss"))
        if text:
            out["loss curve"] = dg.MetadataValue.md(text)
    text = inline_md(sparkline_markdown([h.get("kl") for h in history], "KL", reference=kl_bound))
    if text:
        out["KL curve"] = dg.MetadataValue.md(text)
    selection = metrics.get("selection") or {}
    curve = selection.get("curve") or []
    if curve:  # the validation learning curve of the checkpoint selection (training/grpo/selection.py)
        every = selection.get("every")
        for key, name in (("validation_success", "validation success"), ("decision_accuracy", "decision accuracy")):
            text = inline_md(sparkline_markdown([100 * p[key] for p in curve], f"{name} (every {every} steps)", "%"))
            if text:
                out[f"{name} curve"] = dg.MetadataValue.md(text)
        out["selected step"] = dg.MetadataValue.int(int(selection.get("best_step") or 0))
    return out


def models_table(results: dict[str, dict[str, Any]], models: list[str]) -> dg.MetadataValue:
    """One row per model (in ``models``' order), one column per metric, with units in the headers."""
    columns = [dg.TableColumn("model", "string")] + [dg.TableColumn(h, "float") for h in MODEL_COLUMNS.values()]
    records = [dg.TableRecord({"model": label(m), **{h: _cell(results[m].get(metric), metric)
                                                     for metric, h in MODEL_COLUMNS.items()}})
               for m in models if m in results]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def comparison_bars(results: dict[str, dict[str, Any]], models: list[str], metric: str = "success_greedy") -> dg.MetadataValue:
    """The models' ``metric`` (a fraction) as inline bars, in ``models``' order."""
    return dg.MetadataValue.md(bars_markdown({label(m): (results.get(m) or {}).get(metric) for m in models},
                                             metric.replace("_", " ")))


def species_table(results: dict[str, dict[str, dict[str, Any]]], models: list[str],
                  metric: str = "success_greedy") -> dg.MetadataValue:
    """The report's table: one row per species and an "average" row (mean over the species that
    have the cell), one column per model; percentages for fractions."""
    unit = " (%)" if metric in PERCENT_METRICS else ""
    columns = [dg.TableColumn("species", "string")] + [dg.TableColumn(label(m) + unit, "float") for m in models]
    records = []
    sums: dict[str, list[float]] = {m: [] for m in models}
    for species, by_model in results.items():
        row: dict[str, Any] = {"species": species}
        for m in models:
            value = (by_model.get(m) or {}).get(metric)
            row[label(m) + unit] = _cell(value, metric)
            if isinstance(value, (int, float)):
                sums[m].append(float(value))
        records.append(dg.TableRecord(row))   # every record has every column (None: an empty cell)
    if len(results) > 1:
        records.append(dg.TableRecord({"species": "average", **{
            label(m) + unit: _cell(sum(v) / len(v), metric) if v else None for m, v in sums.items()}}))
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))
