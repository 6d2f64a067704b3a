"""A species that exists only in this test's data loads, resolves, simulates and gets scenarios:
adding a species needs data, not code."""

from __future__ import annotations

import shutil

import pytest

from srl_pipeline.game import validate_data
from srl_pipeline.game.lore import check_lore_against_rules
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenarios import ScenarioSpec, generate_scenarios
from srl_pipeline.game.simulator import Call, Simulator
from srl_pipeline.game.solver import shortest_plan
from srl_pipeline.game.sources import FileGameStateSource, FileLoreSource, GameFiles

from .conftest import REAL_WORLD, TEST_WORLD, species_lore, species_rules, write_yaml


@pytest.fixture(params=["test_world", "real_world"])
def root(request, tmp_path):
    if request.param == "real_world":
        shutil.copy(REAL_WORLD, tmp_path / "world.yaml")
    else:
        write_yaml(tmp_path / "world.yaml", TEST_WORLD)
    write_yaml(tmp_path / "game_state.yaml", {"events": ["blood_moon"]})
    for name in ("wight", "barrow_wight_2"):
        write_yaml(tmp_path / "species" / name / "rules.yaml", species_rules(name))
        write_yaml(tmp_path / "species" / name / "lore.yaml", species_lore(name))
    return tmp_path


def test_new_species_end_to_end(root):
    files = GameFiles(root)
    lore_source = FileLoreSource(files)
    assert files.list_species() == ["barrow_wight_2", "wight"] == lore_source.list_species()
    assert files.invalid_species() == []
    world = files.load_world()
    events = FileGameStateSource(files.game_state_path).active_events()
    for species in files.list_species():
        lore = lore_source.load(species)
        assert lore.species == species and len(lore.by_kind("example_line")) == 2
        rules = files.load_rules(species, world)
        check_lore_against_rules(lore, set(rules.actions))
        ruleset = RuleSet.resolve(rules, events)
        assert ruleset.species == species and "howl" in ruleset.actions
        sim = Simulator(ruleset)
        res = sim.run(sim.initial_state(), [Call("howl", {})], "drive_off")
        assert res.success
        scenarios = generate_scenarios(ruleset, ScenarioSpec(count=8, seed=1), world.player_profiles)
        assert len(scenarios) == 8
        for s in scenarios:
            assert s.species == species and s.rules_version == ruleset.version
            sol = shortest_plan(sim, s.state, s.goal)
            assert sol is not None and sim.run(s.state, sol.calls, s.goal).success


def test_fingerprints_follow_the_files(root):
    files = GameFiles(root)
    src = FileLoreSource(files)
    before = src.fingerprints()
    assert set(before) == {"wight", "barrow_wight_2"}
    lore = species_lore("wight")
    lore["passages"][0]["text"] += " Changed."
    write_yaml(files.lore_path("wight"), lore)
    after = src.fingerprints()
    assert after["wight"] != before["wight"] and after["barrow_wight_2"] == before["barrow_wight_2"]
    rules_fp = files.rules_fingerprint("wight")
    raw = species_rules("wight")
    raw["actions"][0]["description"] = "new words"
    write_yaml(files.rules_path("wight"), raw)
    assert files.rules_fingerprint("wight") != rules_fp


def test_validate_data_cli_on_new_species(root, capsys):
    write_yaml(root / "game_state.yaml", {"events": []})  # under blood_moon, howl makes drive_off a 1-step goal
    assert validate_data.main([str(root), "--count", "40"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "wight: 14 passages" in out and "barrow_wight_2: 14 passages" in out


def test_validate_data_cli_reports_bad_species(root, capsys):
    (root / "species" / "Bad-Name").mkdir()
    (root / "species" / "wight" / "rules.yaml").write_bytes(b"")
    assert validate_data.main([str(root), "--count", "4"]) == 2  # bad input
    out = capsys.readouterr().out
    assert "ERROR" in out and "'Bad-Name'" in out and "file is empty" in out
