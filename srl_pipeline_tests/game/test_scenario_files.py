"""User scenario files (JSONL): every problem of a file is reported together, each naming the
file, the line and the field; the example file under configs/eval is valid for the real rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.rules import RuleSet
from srl_pipeline.game.scenario_files import read_scenario_file
from srl_pipeline.game.sources import FileGameStateSource, GameFiles

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = REPO_ROOT / "configs" / "eval" / "vampire_encounters.jsonl"
GOOD = {"id": "v1", "goal": "drive_off", "state": {"location": "forest", "time": "night", "player_resolve": 2}}
STEP1 = '1. **Whisper from the dark** whisper_from_shadows(target=player) | "Turn back, traveller, the night is mine."'


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    """The vampire's real rules in force (configs/game)."""
    files = GameFiles(REPO_ROOT / "configs" / "game")
    return RuleSet.resolve(files.load_rules("vampire"), FileGameStateSource(files.game_state_path).active_events())


def _write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _problems(path: Path, ruleset: RuleSet, species: str = "vampire") -> list[str]:
    with pytest.raises(GameDataError) as e:
        read_scenario_file(path, ruleset, species)
    return [str(p) for p in e.value.problems]


def test_example_file_is_valid(ruleset):
    scenarios = read_scenario_file(EXAMPLE_FILE, ruleset, "vampire")
    assert len(scenarios) == 10  # the hand-written encounters (test_eval_encounters.py checks them in depth)
    assert len({sc.goal for sc, _ in scenarios}) == 4


def test_good_lines_give_scenarios_and_expert_steps(tmp_path, ruleset):
    good = _write(tmp_path / "good.jsonl", [GOOD, "", {**GOOD, "id": "v2", "species": "vampire", "expert_steps": [STEP1]}])
    scenarios = read_scenario_file(str(good), ruleset, "vampire")
    assert [(sc.id, sc.goal, steps) for sc, steps in scenarios] == [("v1", "drive_off", []), ("v2", "drive_off", [STEP1])]


def test_every_problem_is_reported_with_file_line_and_field(tmp_path, ruleset):
    bad = _write(tmp_path / "bad.jsonl", [
        GOOD, "", {"id": "v1", "goal": "drive_off", "state": {"time": "noon"}},
        {"id": "v3", "goal": "drive_off", "state": {}, "expert_steps": ["1. not a step"]}, "[1, 2]",
        '{"id": "v6", "goal": "drive_off"',
        {"id": "v7", "goal": "seduce", "state": {"mood": "grim"}},
        {"id": "v8", "species": "werewolf", "goal": "drive_off", "state": {}, "expert_steps": [STEP1.replace("1.", "2.", 1), 3]},
        {"id": "v9", "goal": "drive_off", "state": {}, "expert_steps": STEP1}])
    problems = _problems(bad, ruleset)
    expected = [
        f"{bad}: record line 3: field state.time: invalid value 'noon'",
        f"{bad}: record line 3: field id: duplicate id 'v1' (first on line 1)",
        f"{bad}: record line 4: field expert_steps[0]: ",
        f"{bad}: record line 5: field <record>: expected a JSON object",
        f"{bad}: record line 6: field <json>: invalid JSON",
        f"{bad}: record line 7: field goal: unknown goal 'seduce'",
        f"{bad}: record line 7: field state.mood: unknown state variable",
        f"{bad}: record line 8: field species: says 'werewolf' but the file is evaluated for 'vampire'",
        f"{bad}: record line 8: field expert_steps[0]: expected step number 1, got 2",
        f"{bad}: record line 8: field expert_steps[1]: expected a string, got int",
        f"{bad}: record line 9: field expert_steps: expected a list of step strings",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert not any("line 1:" in p or "line 2:" in p for p in problems), problems


def test_missing_empty_and_undecodable_files(tmp_path, ruleset):
    with pytest.raises(FileNotFoundError, match="no such scenario file"):
        read_scenario_file(tmp_path / "absent.jsonl", ruleset, "vampire")
    blank = _write(tmp_path / "blank.jsonl", ["", "   "])
    assert _problems(blank, ruleset) == [f"{blank}: record <file>: field <content>: no scenarios (every line is blank)"]
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(GOOD).encode() + b"\n\xe9\n")
    offset = len(json.dumps(GOOD).encode()) + 1
    assert _problems(latin, ruleset)[0].startswith(f"{latin}: record line 2: field <encoding>: invalid UTF-8 at byte {offset}")
