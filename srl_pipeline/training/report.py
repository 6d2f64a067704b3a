"""The experiment report: the paper's Table 1 on our game (base / SFT / RLVR-only / SRL / SRL→RLVR,
per species and averaged), written with its plots to ``<artifacts>/report/``.

It reads the evaluation artifacts the pipeline wrote (``model_evaluation/<species>.json`` for the
production models, ``experiment_evaluation/<species>.json`` for the baselines), so it always
describes exactly what was evaluated; a model that was not evaluated shows as "—".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_json
from .evaluation import MODEL_LABELS, TABLE_MODELS, comparison_plot, results_table

SOURCES = ("model_evaluation", "experiment_evaluation")
METRICS = (("success_greedy", "Full-plan success, greedy (%)"),
           ("success_avg_k", "Full-plan success, avg@k sampled at temperature 1.0 (%)"),
           ("step_similarity", "Mean step similarity to the expert (%)"),
           ("format_error_rate", "Format-error rate (% of turns)"),
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
    for m in TABLE_MODELS:
        for metric in ("success_greedy", "success_avg_k"):
            vals = [r[m][metric] for r in results.values() if m in r and r[m].get(metric) is not None]
            if vals:
                out.setdefault(m, {})[metric] = sum(vals) / len(vals)
        ks = {r[m].get("k") for r in results.values() if m in r}
        if m in out and len(ks) == 1:
            out[m]["k"] = ks.pop()
    return out


def write_report(artifacts_dir: Path) -> dict[str, Any]:
    """Write ``report.md`` (tables and weakness reports), ``report.json`` and one PNG per species
    plus the average; returns ``{"results", "table", "path"}`` (``table``: greedy success)."""
    artifacts_dir = Path(artifacts_dir)
    out = artifacts_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = collect_results(artifacts_dir)
    models = [m for m in TABLE_MODELS if any(m in r for r in results.values())] or TABLE_MODELS
    table = results_table(results, TABLE_MODELS, "success_greedy")
    lines = ["# SRL → RLVR on the game: held-out test scenarios", "",
             "The paper's Table 1 (arXiv 2510.25992) on this game: full plans written step by step by each "
             "model and judged by the simulator, on each species' held-out test split.", ""]
    for metric, title in METRICS:
        lines += [f"## {title}", "", results_table(results, TABLE_MODELS, metric)]
    plots = {"average": comparison_plot(_average(results), models, title="All species: held-out test split")}
    for species, by_model in results.items():
        plots[species] = comparison_plot(by_model, models, title=f"{species}: held-out test split")
    lines += ["## Plots", ""]
    for name, png in plots.items():
        tmp = out / f".{name}.png.tmp"
        tmp.write_bytes(png)
        tmp.replace(out / f"{name}.png")
        lines.append(f"![{name}]({name}.png)")
    lines += ["", "## Weakness report (top failure modes)", ""]
    for species, by_model in results.items():
        lines.append(f"### {species}")
        for m in models:
            if m in by_model:
                modes = "; ".join(by_model[m].get("weakness", {}).get("top_failure_modes", [])) or "no failures"
                lines.append(f"- {MODEL_LABELS.get(m, m)}: {modes}")
        lines.append("")
    path = out / "report.md"
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    atomic_write_json(out / "report.json", {"models": TABLE_MODELS, "results": results})
    return {"results": results, "table": table, "path": path}
