"""The markdown table (exact text) and the report written from evaluation artifacts."""

from __future__ import annotations

import json

from srl_pipeline.core.atomic import atomic_write_json
from srl_pipeline.evaluation.report import collect_results, results_table, write_report


def test_results_table_exact():
    results = {
        "vampire": {"base": {"success_greedy": 0.1}, "sft": {"success_greedy": 0.25},
                    "srl": {"success_greedy": 0.5}, "srl_rlvr": {"success_greedy": 0.625}},
        "werewolf": {"base": {"success_greedy": 0.2}, "srl": {"success_greedy": 0.0},
                     "srl_rlvr": {"success_greedy": None}},
    }
    models = ["base", "sft", "rlvr_only", "srl", "srl_rlvr"]
    assert results_table(results, models) == (
        "| species (success_greedy, %) | Base | SFT | RLVR-only | SRL | SRL→RLVR |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| vampire | 10.0 | 25.0 | — | 50.0 | 62.5 |\n"
        "| werewolf | 20.0 | — | — | 0.0 | — |\n"
        "| average | 15.0 | 25.0 | — | 25.0 | 62.5 |\n")
    kl = results_table({"vampire": {"srl": {"kl_to_base": 0.01234}}}, ["srl"], metric="kl_to_base")
    assert kl == "| species (kl_to_base) | SRL |\n|---|---:|\n| vampire | 0.012 |\n| average | 0.012 |\n"


def _metrics(greedy: float, modes: list[str]) -> dict:
    return {"success_greedy": greedy, "success_avg_k": greedy / 2, "k": 4, "step_similarity": 0.5,
            "format_error_rate": 0.25, "kl_to_base": 0.01, "weakness": {"top_failure_modes": modes}}


def test_write_report_from_artifacts(tmp_path):
    atomic_write_json(tmp_path / "model_evaluation" / "vampire.json", {"species": "vampire", "models": {
        "base": _metrics(0.1, ["format errors (3 of 4 plans)"]), "srl": _metrics(0.5, []),
        "srl_rlvr": _metrics(0.75, [])}})
    atomic_write_json(tmp_path / "experiment_evaluation" / "vampire.json", {"species": "vampire", "models": {
        "sft": _metrics(0.25, [])}})
    atomic_write_json(tmp_path / "model_evaluation" / "ghoul.json", {"species": "ghoul", "models": {
        "base": _metrics(0.0, [])}})
    assert list(collect_results(tmp_path)) == ["ghoul", "vampire"]
    report = write_report(tmp_path)
    assert report["table"] == (
        "| species (success_greedy, %) | Random legal | Base | SFT | RLVR-only | SRL | SRL→RLVR | Silver | Gold | Solver |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| ghoul | — | 0.0 | — | — | — | — | — | — | — |\n"
        "| vampire | — | 10.0 | 25.0 | — | 50.0 | 75.0 | — | — | — |\n"
        "| average | — | 5.0 | 25.0 | — | 50.0 | 75.0 | — | — | — |\n")
    assert report["verdict"] == ("SRL→RLVR wins with 75.0 % greedy success on the held-out test split (average over "
                                 "2 species), ahead of SFT by 50.0 points. For reference: Base 5.0 %.")
    out = tmp_path / "report"
    text = (out / "report.md").read_text(encoding="utf-8")
    assert report["path"] == out / "report.md"
    assert report["table"] in text and "## KL to the base model (per token)" in text
    assert "- Base: format errors (3 of 4 plans)" in text and "- SRL→RLVR: no failures" in text
    for name in ("average", "ghoul", "vampire"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"![{name}]({name}.png)" in text
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["models"] == ["random_legal", "base", "sft", "rlvr_only", "srl", "srl_rlvr", "silver", "gold", "solver"]
    assert report["verdict"] in text
    assert saved["results"]["vampire"]["sft"]["success_greedy"] == 0.25


def test_the_tier_table_puts_the_tiers_side_by_side_with_their_share_of_bronze():
    from srl_pipeline.evaluation.report import tier_table

    def r(success, params, latency):
        return {"success_greedy": success, "step_similarity": 0.5, "parameters": params, "latency_ms_per_turn": latency}

    results = {"lich": {"srl_rlvr": r(0.4, 2_000_000, 30.0), "silver": r(0.4, 1_000_000, 20.0), "gold": r(0.2, 400_000, 10.0)},
               "zombie": {"srl_rlvr": r(0.2, 2_000_000, 30.0), "silver": r(0.1, 1_000_000, 20.0), "gold": r(0.2, 400_000, 10.0)}}
    text = tier_table(results, {"bronze": "srl_rlvr", "silver": "silver", "gold": "gold"})
    assert "| lich | Gold | 20.0 | 50.0 | 0.40M | 10.0 | 50 | 20 |" in text
    assert "| average | SRL→RLVR | 30.0 | 50.0 | 2.00M | 30.0 | 100 | 100 |" in text
    assert "| average | Gold | 20.0 | 50.0 | 0.40M | 10.0 | 67 | 20 |" in text


def test_the_verdict_says_whether_the_winner_plays_better_than_a_random_legal_policy():
    from srl_pipeline.evaluation.report import verdict

    def species(random_legal, srl_rlvr, sft):
        return {"random_legal": {"success_greedy": random_legal}, "base": {"success_greedy": 0.0},
                "srl_rlvr": {"success_greedy": srl_rlvr}, "sft": {"success_greedy": sft}}

    below = verdict({"lich": species(0.10, 0.08, 0.05)})
    assert below.startswith("SRL→RLVR wins with 8.0 %")
    assert below.endswith("No recipe plays better than a random legal policy yet (SRL→RLVR is 2.0 points below it).")
    above = verdict({"lich": species(0.10, 0.50, 0.05), "zombie": species(0.20, 0.30, 0.45)})
    assert above.endswith("SRL→RLVR beats a random legal policy by 25.0 points.")
    assert "ties it" in verdict({"lich": species(0.25, 0.25, 0.0)})


def _played(wins: list[bool]) -> dict:
    """A model's metrics with per-scenario outcomes (scenario ids s0, s1, ...)."""
    return {"success_greedy": sum(wins) / len(wins),
            "per_task": [{"scenario_id": f"s{i}", "outcome": "success" if w else "violation"}
                         for i, w in enumerate(wins)]}


def test_the_verdict_gives_the_margin_an_interval_and_says_when_it_is_not_a_win():
    from srl_pipeline.evaluation.report import verdict

    # SRL->RLVR wins 12 of 20 scenarios, SFT the same 12 but one: a 5-point lead the scenarios cannot separate.
    close = {"vampire": {"srl_rlvr": _played([True] * 12 + [False] * 8),
                         "sft": _played([True] * 11 + [False] * 9),
                         "rlvr_only": _played([False] * 20)}}
    text = verdict(close)
    assert text.startswith("SRL→RLVR leads with 60.0 %")
    assert "SFT by 5.0 points (95 % interval +0.0 to +15.0)" in text
    assert "RLVR-only by 60.0 points (95 % interval +40.0 to +80.0)" in text
    assert "The lead over SFT is within what the choice of test scenarios moves: not a win." in text
    # Far apart on every scenario: a win, with its interval.
    clear = {"vampire": {"srl_rlvr": _played([True] * 20), "sft": _played([False] * 20)}}
    text = verdict(clear)
    assert text.startswith("SRL→RLVR wins with 100.0 %")
    assert "SFT by 100.0 points (95 % interval +100.0 to +100.0)" in text
    assert "not a win" not in text
