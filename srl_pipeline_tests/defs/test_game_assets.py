"""The game-data assets materialise per species behind passing blocking checks."""

import json
from pathlib import Path

import yaml

from .conftest import Runner, failure_messages, check_results, make_resources, materialized

ALL = {"monster_lore", "lore_index", "game_rules", "scenarios", "expert_trajectories", "srl_dataset"}


def test_main_job_materialises_every_asset_with_checks_passing(runner: Runner, tmp_path: Path):
    result = runner.run("vampire")
    assert result.success
    assert materialized(result) == ALL
    checks = check_results(result)
    assert len(checks) == 15 and all(checks.values()), checks  # 14 blocking + the lore quarantine notice
    scen = json.loads((tmp_path / "artifacts" / "scenarios" / "vampire.json").read_text())
    rules = json.loads((tmp_path / "artifacts" / "game_rules" / "vampire.json").read_text())
    assert {s["rules_version"] for s in scen["scenarios"]} == {rules["rules_version"]}
    assert {s["split"] for s in scen["scenarios"]} == {"train", "validation", "test"}


def _data_version(runner: Runner, asset: str, species: str) -> str:
    import dagster as dg

    record = runner.instance.get_latest_materialization_event(dg.AssetKey(asset))
    return record.asset_materialization.tags["dagster/data_version"]


def test_rules_change_and_world_event_change_the_rules_version(game_root: Path, tmp_path: Path):
    runner = Runner(make_resources(game_root, tmp_path / "artifacts"))
    assert runner.run("werewolf").success
    v1 = _data_version(runner, "game_rules", "werewolf")
    lore_v1 = _data_version(runner, "monster_lore", "werewolf")
    (game_root / "game_state.yaml").write_text("events: [blood_moon]\n")
    assert runner.run("werewolf").success
    v2 = _data_version(runner, "game_rules", "werewolf")
    assert v2 != v1
    assert _data_version(runner, "monster_lore", "werewolf") == lore_v1  # lore untouched: same version
    rules = yaml.safe_load((game_root / "species" / "werewolf" / "rules.yaml").read_text())
    rules["actions"][0]["description"] = "edited by a designer"
    (game_root / "species" / "werewolf" / "rules.yaml").write_text(yaml.safe_dump(rules))
    assert runner.run("werewolf").success
    assert _data_version(runner, "game_rules", "werewolf") not in (v1, v2)


def test_lore_that_would_fail_a_blocking_check_is_refused_before_publishing(game_root: Path, tmp_path: Path):
    """Validate before publishing: the condition of lore_matches_rules runs inside monster_lore and
    game_rules, so neither artifact is written and nothing downstream runs."""
    lore_path = game_root / "species" / "zombie" / "lore.yaml"
    lore = yaml.safe_load(lore_path.read_text())
    lines = [p for p in lore["passages"] if p["kind"] == "example_line"]
    orphan = lines[0]["actions"][0]
    # schema-valid lore, but one action of the catalogue loses every example line
    lore["passages"] = [p for p in lore["passages"] if not (p["kind"] == "example_line" and orphan in p.get("actions", []))]
    lore_path.write_text(yaml.safe_dump(lore))
    runner = Runner(make_resources(game_root, tmp_path / "artifacts"))
    result = runner.run("zombie")
    assert not result.success
    message = failure_messages(result)
    assert f"{lore_path}: record <file>: field passages: no example_line passage for action(s) ['{orphan}']" in message
    assert materialized(result) == set()
    assert not list((tmp_path / "artifacts").rglob("zombie.json"))


def test_trajectory_metadata_and_cache_on_rerun(runner: Runner):
    import dagster as dg

    assert runner.run("lich").success
    first = runner.instance.get_latest_materialization_event(dg.AssetKey("expert_trajectories")).asset_materialization
    md = {k: v.value for k, v in first.metadata.items()}
    assert md["acceptance_rate"] >= 0.8 and md["cache_hits"] == 0 and md["cache_misses"] == md["trajectories"]
    for key in ("score_distribution", "attempts_per_trajectory", "rejections_by_reason", "usage_by_role", "estimated_cost_usd"):
        assert key in md
    assert runner.run("lich").success
    again = runner.instance.get_latest_materialization_event(dg.AssetKey("expert_trajectories")).asset_materialization
    assert again.metadata["cache_hits"].value == md["trajectories"]
    assert again.tags["dagster/data_version"] == first.tags["dagster/data_version"]
