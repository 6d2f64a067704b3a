"""Fixtures for the CLI's Dagster pieces: a local instance in a temporary $DAGSTER_HOME and a
workspace file loading the tiny code location."""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline.core.profiles import PROJECT_ROOT


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def tiny_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace.yaml"
    ws.write_text("load_from:\n  - python_module:\n      module_name: srl_pipeline_tests.cli.tiny_location\n"
                  f"      location_name: tiny\n      working_directory: {PROJECT_ROOT}\n")
    return ws
