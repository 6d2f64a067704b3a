"""The lore-change and rules-change sensors, through Dagster's sensor test context."""

import json
from datetime import datetime
import shutil
from pathlib import Path

import dagster as dg
import yaml

from srl_pipeline.defs.automation.schedules import nightly_schedule
from srl_pipeline.defs.automation.sensors import lore_change_sensor, rules_change_sensor
from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.defs.game.resources import GameDataResource

SPECIES = ["ghoul", "lich", "vampire", "werewolf", "zombie"]


def _tick(sensor, instance, game_root: Path, cursor: str | None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor,
                                  resources={"game_data": GameDataResource(root=str(game_root))})
    return sensor(ctx)


def _apply_partition_requests(instance, result: dg.SensorResult) -> None:
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))


def test_lore_sensor_adds_new_species_and_runs_exactly_the_changed_ones(game_root: Path):
    instance = dg.DagsterInstance.ephemeral()
    first = _tick(lore_change_sensor, instance, game_root, None)
    assert sorted(r.partition_key for r in first.run_requests) == SPECIES
    assert [sorted(r.partition_keys) for r in first.dynamic_partitions_requests] == [SPECIES]
    _apply_partition_requests(instance, first)

    quiet = _tick(lore_change_sensor, instance, game_root, first.cursor)
    assert quiet.run_requests == [] and not quiet.dynamic_partitions_requests

    lore = game_root / "species" / "lich" / "lore.yaml"
    data = yaml.safe_load(lore.read_text())
    data["passages"][0]["text"] += " It remembers every name it has ever unmade."
    lore.write_text(yaml.safe_dump(data))
    changed = _tick(lore_change_sensor, instance, game_root, quiet.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["lich"]
    assert not changed.dynamic_partitions_requests

    shutil.copytree(game_root / "species" / "ghoul", game_root / "species" / "banshee")
    for name in ("lore.yaml", "rules.yaml"):
        p = game_root / "species" / "banshee" / name
        p.write_text(p.read_text().replace("species: ghoul", "species: banshee"))
    (game_root / "species" / "Not-A-Species").mkdir()  # ignored with a warning, never a partition
    added = _tick(lore_change_sensor, instance, game_root, changed.cursor)
    assert [r.partition_key for r in added.run_requests] == ["banshee"]
    assert [list(r.partition_keys) for r in added.dynamic_partitions_requests] == [["banshee"]]
    assert json.loads(added.cursor).keys() == set(SPECIES) | {"banshee"}
    # run keys make a re-evaluation with the old cursor idempotent for the daemon
    assert added.run_requests[0].run_key.startswith("lore:banshee:")


def test_rules_sensor_runs_only_species_whose_rules_in_force_changed(game_root: Path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(species_partitions.name, SPECIES)
    first = _tick(rules_change_sensor, instance, game_root, None)
    assert sorted(r.partition_key for r in first.run_requests) == []  # nothing known before: baseline only
    base = json.loads(first.cursor)
    assert sorted(base) == SPECIES

    (game_root / "game_state.yaml").write_text("events: [blood_moon]\n")
    after = _tick(rules_change_sensor, instance, game_root, first.cursor)
    changed = sorted(r.partition_key for r in after.run_requests)
    gated = sorted(s for s in SPECIES if "blood_moon" in (game_root / "species" / s / "rules.yaml").read_text())
    assert changed == gated and "werewolf" in changed
    assert _tick(rules_change_sensor, instance, game_root, after.cursor).run_requests == []


def test_nightly_schedule_requests_every_species(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.add_dynamic_partitions(species_partitions.name, SPECIES)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 21, 3)) as ctx:
            requests = nightly_schedule(ctx)
    assert sorted(r.partition_key for r in requests) == SPECIES
    assert requests[0].run_key.startswith("nightly:2026-11-21:")


def test_lore_sensor_first_tick_skips_species_already_materialised_from_the_same_lore(runner, game_root: Path):
    """`make ui` after `make main`: a fresh daemon (empty cursor) must not retrain what is current."""
    runner.run("vampire", job="data")  # materialises monster_lore with its lore fingerprint
    first = _tick(lore_change_sensor, runner.instance, game_root, None)
    assert "vampire" not in [r.partition_key for r in first.run_requests]
    assert sorted(r.partition_key for r in first.run_requests) == [s for s in SPECIES if s != "vampire"]
    lore = game_root / "species" / "vampire" / "lore.yaml"
    lore.write_text(lore.read_text().replace("species: vampire", "species: vampire\n# edited", 1))
    edited = _tick(lore_change_sensor, runner.instance, game_root, None)
    assert "vampire" in [r.partition_key for r in edited.run_requests]


def test_the_nightly_schedule_runs_the_cascade_on_in_the_deployment_and_off_locally(tmp_path: Path):
    from srl_pipeline.core.profiles import load_profile
    from srl_pipeline.defs.automation.definitions import defs_for

    statuses = {}
    for name in ("aws", "local", "test"):
        (schedule,) = defs_for(load_profile(name)).schedules
        statuses[name] = schedule.default_status
        assert schedule.job_name == "cascade"
    assert statuses == {"aws": dg.DefaultScheduleStatus.RUNNING, "local": dg.DefaultScheduleStatus.STOPPED,
                        "test": dg.DefaultScheduleStatus.STOPPED}
    (schedule,) = defs_for(load_profile("aws")).schedules
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.add_dynamic_partitions(species_partitions.name, ["lich", "zombie"])
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 12, 3, 3)) as ctx:
            requests = schedule(ctx)
    assert [(r.partition_key, r.run_key, r.tags["trigger"]) for r in requests] == [
        ("lich", "nightly:2026-12-03:lich", "nightly"), ("zombie", "nightly:2026-12-03:zombie", "nightly")]


def test_the_cascade_job_is_the_distillation_evaluation_and_registration_without_bronzes_training():
    from srl_pipeline.definitions import build_definitions

    job = build_definitions().resolve_job_def("cascade")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert keys == {"bronze_traces", "silver_adapter", "gold_adapter", "model_evaluation", "registered_models"}
