"""Blocking checks on the trajectories and the SRL dataset: no unverified, duplicated, too long
or leaked example ever reaches training."""

import dagster as dg
import great_expectations.expectations as gxe
import pandas as pd

from ...game.rules import ruleset_from_artifact
from ...game.scenarios import Scenario
from ...game.simulator import Simulator
from ...game.steps import parse_plan
from ...quality.expectations import validate_frame
from ..check_results import check_result
from ..partitions import species_partitions
from .resources import CollaborationResource, DatasetSettings

_TRAJ = dict(partitions_def=species_partitions, asset="expert_trajectories", blocking=True)
_DATA = dict(partitions_def=species_partitions, asset="srl_dataset", blocking=True)


@dg.asset_check(**_TRAJ, additional_ins={"game_rules": dg.AssetIn("game_rules"), "scenarios": dg.AssetIn("scenarios")},
                description="Every accepted trajectory re-verified by the simulator under the rules in force (100%).")
def trajectories_reverified(expert_trajectories: dict, game_rules: dict, scenarios: dict) -> dg.AssetCheckResult:
    rs = ruleset_from_artifact(game_rules)
    sim = Simulator(rs)
    by_id = {r["id"]: Scenario.from_record(r, rs) for r in scenarios["scenarios"]}
    bad = []
    accepted = [t for t in expert_trajectories["trajectories"] if t["accepted"]]
    for t in accepted:
        sc = by_id.get(t["scenario_id"])
        if sc is None or not sim.run(sc.state, parse_plan(t["plan"]), sc.goal).success:
            bad.append(t["scenario_id"])
    return check_result(not bad, f"{len(accepted) - len(bad)}/{len(accepted)} accepted trajectories pass the simulator",
                   failing=dg.MetadataValue.json(bad[:10]))


@dg.asset_check(**_TRAJ, description="Accepted trajectories: score >= threshold, step counts in bounds, no duplicates (GX).")
def trajectories_quality(expert_trajectories: dict, collaboration: CollaborationResource,
                         dataset_settings: DatasetSettings) -> dg.AssetCheckResult:
    rows = [{"scenario_id": t["scenario_id"], "score": t["score"], "n_steps": len(t["steps"]),
             "scenario_plan": f"{t['scenario_id']}\n{t['plan']}"}
            for t in expert_trajectories["trajectories"] if t["accepted"]]
    all_ids = pd.DataFrame({"scenario_id": [t["scenario_id"] for t in expert_trajectories["trajectories"]]})
    df = pd.DataFrame(rows, columns=["scenario_id", "score", "n_steps", "scenario_plan"])
    summary = validate_frame(df, [
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=collaboration.accept_score, max_value=1.0),
        gxe.ExpectColumnValuesToBeBetween(column="n_steps", min_value=dataset_settings.min_steps, max_value=dataset_settings.max_steps),
        gxe.ExpectColumnValuesToBeUnique(column="scenario_plan"),
    ], "trajectories")
    ids = validate_frame(all_ids, [gxe.ExpectColumnValuesToBeUnique(column="scenario_id")], "trajectory_ids")
    ok = summary.success and ids.success
    return check_result(ok, f"{summary.describe_failures()}; ids: {ids.describe_failures()}", **summary.as_metadata())


@dg.asset_check(**_TRAJ, description="The acceptance rate is above the configured floor.")
def trajectories_acceptance_rate(expert_trajectories: dict, dataset_settings: DatasetSettings) -> dg.AssetCheckResult:
    ts = expert_trajectories["trajectories"]
    rate = sum(t["accepted"] for t in ts) / max(1, len(ts))
    return check_result(bool(ts) and rate >= dataset_settings.min_acceptance_rate,
                   f"acceptance {rate:.2%} (floor {dataset_settings.min_acceptance_rate:.0%}) over {len(ts)} scenarios",
                   acceptance_rate=round(rate, 4))


@dg.asset_check(**_DATA, description="Prompt + target token lengths fit the Bronze model's context; targets non-empty (GX).")
def srl_dataset_token_lengths(srl_dataset: dict, dataset_settings: DatasetSettings) -> dg.AssetCheckResult:
    df = pd.DataFrame(srl_dataset["examples"], columns=["id", "prompt_tokens", "target_tokens"])
    df["total_tokens"] = df["prompt_tokens"] + df["target_tokens"]
    summary = validate_frame(df, [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeBetween(column="target_tokens", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="total_tokens", min_value=1, max_value=dataset_settings.context_tokens),
    ], "srl_dataset")
    return check_result(summary.success, summary.describe_failures(), **summary.as_metadata())


@dg.asset_check(**_DATA, additional_ins={"scenarios": dg.AssetIn("scenarios")},
                description="Splits follow the scenarios: no test scenario in training data; enough training examples.")
def srl_dataset_splits(srl_dataset: dict, scenarios: dict, dataset_settings: DatasetSettings) -> dg.AssetCheckResult:
    split_of = {s["id"]: s["split"] for s in scenarios["scenarios"]}
    wrong = [e["id"] for e in srl_dataset["examples"] if split_of.get(e["scenario_id"]) != e["split"]]
    test_ids = {s for s, sp in split_of.items() if sp == "test"}
    leaked = [e["id"] for e in srl_dataset["examples"] if e["split"] == "train" and e["scenario_id"] in test_ids]
    train = sum(1 for e in srl_dataset["examples"] if e["split"] == "train")
    ok = not wrong and not leaked and train >= dataset_settings.min_train_examples
    return check_result(ok, f"{len(wrong)} examples with a wrong split, {len(leaked)} test examples in train, "
                       f"{train} train examples (min {dataset_settings.min_train_examples})",
                   train_examples=train, mislabelled=dg.MetadataValue.json(wrong[:10]))


COLLABORATION_CHECKS = [trajectories_reverified, trajectories_quality, trajectories_acceptance_rate,
                        srl_dataset_token_lengths, srl_dataset_splits]
