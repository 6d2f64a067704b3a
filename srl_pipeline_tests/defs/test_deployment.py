"""Deployment: dagster.yaml on the real PostgreSQL server, lore from a PostgreSQL table, the
workspace through the `dagster` CLI."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from srl_pipeline.defs.partitions import species_partitions
from srl_pipeline.game.sources import FileLoreSource, GameFiles, PostgresGameStateSource, PostgresLoreSource
from srl_pipeline.core.profiles import PROJECT_ROOT

from .conftest import Runner, check_results, make_resources, materialized

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DAGSTER_BIN = str(Path(sys.executable).parent / "dagster")


@pytest.fixture
def fresh_database():
    name = f"srl_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_dagster_yaml_instance_on_postgres_materialises_an_asset(fresh_database, game_root, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    for key, value in {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USERNAME": "postgres",
                       "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": fresh_database}.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_launcher.supports_check_run_worker_health
        runner = Runner(make_resources(game_root, tmp_path / "artifacts"))
        runner.instance = instance
        result = runner.run("lich")
        assert result.success and "scenarios" in materialized(result)
        record = instance.get_latest_materialization_event(dg.AssetKey("scenarios"))
        assert record is not None and record.asset_materialization.partition == "lich"
    with psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{fresh_database}") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM event_logs WHERE asset_key LIKE %s", ('%scenarios%',))
        assert cur.fetchone()[0] > 0


def test_lore_and_game_state_from_postgres_tables(fresh_database, game_root, tmp_path, monkeypatch):
    dsn = f"postgresql://postgres@127.0.0.1:5432/{fresh_database}"
    lore_src = PostgresLoreSource(dsn)
    lore_src.ensure_schema()
    state_src = PostgresGameStateSource(dsn)
    state_src.ensure_schema()
    lore_src.upsert(FileLoreSource(GameFiles(game_root)).load("werewolf"))
    runner = Runner(make_resources(game_root, tmp_path / "artifacts", lore_backend="postgres",
                                   game_state_backend="postgres", postgres_dsn=dsn))
    result = runner.run("werewolf")
    assert result.success and all(check_results(result).values())
    lore_record = runner.instance.get_latest_materialization_event(dg.AssetKey("monster_lore")).asset_materialization
    assert lore_record.metadata["source"].value.startswith("postgresql:srl_lore_passages")
    rules_v1 = runner.instance.get_latest_materialization_event(dg.AssetKey("game_rules")).asset_materialization.tags["dagster/data_version"]

    state_src.set_event("blood_moon", True)
    assert runner.run("werewolf").success
    rules_v2 = runner.instance.get_latest_materialization_event(dg.AssetKey("game_rules")).asset_materialization.tags["dagster/data_version"]
    assert rules_v2 != rules_v1


def _dagster(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([DAGSTER_BIN, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_dagster_cli_validates_and_materialises_one_partition(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "home"), SRL_PROFILE="test")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    validate = _dagster(["definitions", "validate", "-w", "workspace.yaml"], env)
    assert validate.returncode == 0, validate.stdout + validate.stderr

    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(species_partitions.name, ["vampire"])
    out = _dagster(["asset", "materialize", "-m", "srl_pipeline.definitions", "--select", "monster_lore,lore_index",
                    "--partition", "vampire"], env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        for key in ("monster_lore", "lore_index"):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.asset_materialization.partition == "vampire"
