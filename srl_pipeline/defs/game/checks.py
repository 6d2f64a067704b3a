"""Blocking data-quality checks on the game-data assets.

A failing check stops every downstream asset of that species in the same run. Tabular checks
run Great Expectations suites on pandas frames of the artifact's records.
"""


import collections

import dagster as dg
import great_expectations.expectations as gxe
import pandas as pd

from ...collaboration.guardrails import quarantine_report
from ...game import gates
from ...game.lore import LORE_KINDS, REQUIRED_KINDS
from ...game.lore_index import LoreIndex
from ...game.rules import MIN_ACTIONS, MIN_GOALS, ruleset_from_artifact
from ...game.scenarios import SPLITS, Scenario, held_out_combos, ScenarioSpec
from ...game.simulator import Simulator
from ...game.solver import shortest_plan
from ...quality.expectations import validate_frame
from ..check_results import check_result
from ..partitions import species_partitions
from .resources import QualitySettings


# -- monster_lore ---------------------------------------------------------------------------
@dg.asset_check(partitions_def=species_partitions, asset="monster_lore", blocking=True, description="Lore records: unique ids, known kinds, non-trivial text (GX).")
def lore_schema(monster_lore: dict) -> dg.AssetCheckResult:
    df = pd.DataFrame(monster_lore["passages"], columns=["id", "kind", "title", "text", "actions"])
    df["text_length"] = df["text"].str.len()
    summary = validate_frame(df, [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(LORE_KINDS)),
        gxe.ExpectColumnValuesToNotBeNull(column="title"),
        gxe.ExpectColumnValuesToBeBetween(column="text_length", min_value=10, max_value=2000),
    ], "monster_lore")
    return check_result(summary.success, summary.describe_failures(), **summary.as_metadata())


@dg.asset_check(partitions_def=species_partitions, asset="monster_lore", blocking=True, description="Enough passages, and every required kind present.")
def lore_completeness(monster_lore: dict, quality: QualitySettings) -> dg.AssetCheckResult:
    kinds = collections.Counter(p["kind"] for p in monster_lore["passages"])
    missing = [k for k in REQUIRED_KINDS if not kinds.get(k)]
    count = len(monster_lore["passages"])
    problems = gates.lore_completeness(monster_lore["passages"], quality.min_lore_passages, monster_lore["source"])
    why = f"{count} passages (min {quality.min_lore_passages}); missing kinds: {missing or 'none'}"
    return check_result(not problems, why, passages=count, missing_kinds=dg.MetadataValue.json(missing))


@dg.asset_check(partitions_def=species_partitions, asset="monster_lore", blocking=False,
                description="No passage reads like instructions to the pipeline (WARN: the collaboration already "
                            "leaves quarantined passages out; their owner should rewrite them).")
def lore_quarantine(monster_lore: dict) -> dg.AssetCheckResult:
    quarantined = quarantine_report(monster_lore["passages"])
    why = ("no passage quarantined" if not quarantined else
           f"{len(quarantined)} passage(s) quarantined as injection-like (left out of every prompt): "
           + "; ".join(f"{monster_lore['source']}: passage {q['id']}: {q['match']!r}" for q in quarantined))
    return check_result(not quarantined, why, warn=True, quarantined=dg.MetadataValue.json(quarantined))


# -- lore_index -----------------------------------------------------------------------------
@dg.asset_check(partitions_def=species_partitions, asset="lore_index", blocking=True, additional_ins={"monster_lore": dg.AssetIn("monster_lore")},
                description="The index covers exactly this lore and finds each passage by its own title and text.")
def lore_index_retrieves(lore_index: dict, monster_lore: dict) -> dg.AssetCheckResult:
    index = LoreIndex.from_dict(lore_index)
    ids = [p["id"] for p in monster_lore["passages"]]
    if sorted(index.doc_ids) != sorted(ids) or index.lore_hash != monster_lore["lore_hash"]:
        return check_result(False, "index is stale: its documents or lore hash differ from monster_lore")
    hits = sum(1 for p in monster_lore["passages"]
               if p["id"] in [d for d, _ in index.search(f"{p['title']} {p['text']}", k=3)])
    rate = hits / max(1, len(ids))
    return check_result(rate >= 0.9 and index.vocabulary_size > 0, f"self-retrieval@3 {rate:.2%}",
                   self_retrieval_at_3=round(rate, 4), vocabulary=index.vocabulary_size)


# -- game_rules -----------------------------------------------------------------------------
@dg.asset_check(partitions_def=species_partitions, asset="game_rules", blocking=True, description="Rules rebuild to the same version; catalogue and goals big enough.")
def rules_valid(game_rules: dict) -> dg.AssetCheckResult:
    rs = ruleset_from_artifact(game_rules)  # raises (check errors) on a version mismatch
    ok = not gates.rules_big_enough(len(rs.actions), len(rs.goals), rs.rules.file)
    return check_result(ok, f"{len(rs.actions)} actions in force (min {MIN_ACTIONS}), {len(rs.goals)} goals (min {MIN_GOALS})",
                   rules_version=rs.version)


@dg.asset_check(partitions_def=species_partitions, asset="game_rules", blocking=True, additional_ins={"monster_lore": dg.AssetIn("monster_lore")},
                description="Lore only favours actions in the catalogue, and every action has an example line.")
def lore_matches_rules(game_rules: dict, monster_lore: dict) -> dg.AssetCheckResult:
    rs = ruleset_from_artifact(game_rules)
    unknown = sorted({a for p in monster_lore["passages"] for a in p["actions"] if a not in rs.rules.actions})
    with_lines = {a for p in monster_lore["passages"] if p["kind"] == "example_line" for a in p["actions"]}
    no_lines = sorted(set(rs.actions) - with_lines)
    ok = not gates.lore_against_rules(monster_lore["passages"], rs.rules.actions, rs.actions, monster_lore["source"])
    return check_result(ok,
                   f"unknown actions in lore: {unknown or 'none'}; actions without example lines: {no_lines or 'none'}",
                   unknown_actions=dg.MetadataValue.json(unknown), actions_without_lines=dg.MetadataValue.json(no_lines))


# -- scenarios ------------------------------------------------------------------------------
@dg.asset_check(partitions_def=species_partitions, asset="scenarios", blocking=True, additional_ins={"game_rules": dg.AssetIn("game_rules")},
                description="Scenario records: unique ids, known splits and goals, current rules version (GX).")
def scenarios_schema(scenarios: dict, game_rules: dict) -> dg.AssetCheckResult:
    df = pd.DataFrame(scenarios["scenarios"], columns=["id", "split", "goal", "rules_version", "optimal_steps", "combo"])
    spec = scenarios["spec"]
    summary = validate_frame(df, [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
        gxe.ExpectColumnValuesToBeInSet(column="goal", value_set=sorted(game_rules["summary"]["goals"])),
        gxe.ExpectColumnValuesToBeInSet(column="rules_version", value_set=[game_rules["rules_version"]]),
        gxe.ExpectColumnValuesToBeBetween(column="optimal_steps", min_value=spec["min_plan_steps"], max_value=spec["max_plan_steps"]),
    ], "scenarios")
    return check_result(summary.success, summary.describe_failures(), **summary.as_metadata())


@dg.asset_check(partitions_def=species_partitions, asset="scenarios", blocking=True, description="Every split is big enough for training and evaluation.")
def scenario_split_sizes(scenarios: dict, quality: QualitySettings) -> dg.AssetCheckResult:
    sizes = collections.Counter(s["split"] for s in scenarios["scenarios"])
    short = {k: (sizes.get(k, 0), v) for k, v in quality.min_split_sizes.items() if sizes.get(k, 0) < v}
    ok = not gates.split_sizes((s["split"] for s in scenarios["scenarios"]), quality.min_split_sizes, "scenarios")
    return check_result(ok, f"sizes {dict(sizes)}; below minimum: {short or 'none'}", **{f"{k}_size": sizes.get(k, 0) for k in SPLITS})


@dg.asset_check(partitions_def=species_partitions, asset="scenarios", blocking=True, additional_ins={"game_rules": dg.AssetIn("game_rules")},
                description="The test split holds out whole (goal, location, moon) combinations: none leaks into train/validation.")
def scenarios_hold_out_combinations(scenarios: dict, game_rules: dict) -> dg.AssetCheckResult:
    rs = ruleset_from_artifact(game_rules)
    holdout = held_out_combos(rs, ScenarioSpec(**scenarios["spec"]))
    leaks = [s["id"] for s in scenarios["scenarios"] if s["split"] != "test" and s["combo"] in holdout]
    strays = [s["id"] for s in scenarios["scenarios"] if s["split"] == "test" and s["combo"] not in holdout]
    return check_result(not leaks and not strays, f"{len(leaks)} held-out combos in train/validation, {len(strays)} test scenarios outside held-out combos",
                   leaked=dg.MetadataValue.json(leaks[:10]))


@dg.asset_check(partitions_def=species_partitions, asset="scenarios", blocking=True, additional_ins={"game_rules": dg.AssetIn("game_rules")},
                description="Every scenario is solvable under the rules in force, in its recorded optimal number of steps.")
def scenarios_solvable(scenarios: dict, game_rules: dict) -> dg.AssetCheckResult:
    rs = ruleset_from_artifact(game_rules)
    sim = Simulator(rs)
    bad = []
    for rec in scenarios["scenarios"]:
        sc = Scenario.from_record(rec, rs)
        sol = shortest_plan(sim, sc.state, sc.goal, max_depth=sc.optimal_steps)
        if sol is None or sol.length != sc.optimal_steps or not sim.run(sc.state, sol.calls, sc.goal).success:
            bad.append(sc.id)
    return check_result(not bad, f"{len(scenarios['scenarios']) - len(bad)}/{len(scenarios['scenarios'])} solvable",
                   unsolvable=dg.MetadataValue.json(bad[:10]))


GAME_CHECKS = [lore_schema, lore_completeness, lore_quarantine, lore_index_retrieves, rules_valid, lore_matches_rules,
               scenarios_schema, scenario_split_sizes, scenarios_hold_out_combinations, scenarios_solvable]
