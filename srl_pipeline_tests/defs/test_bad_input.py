"""Bad input, one test per class, through Dagster: a clear error naming file, record and field,
a failed run, no downstream materialisation, and the previous good artifacts untouched."""

from pathlib import Path
from typing import Callable

import pytest
import yaml

from .conftest import Runner, failure_messages, make_resources, materialized

DOWNSTREAM = {
    "monster_lore": {"monster_lore", "lore_index", "expert_trajectories", "srl_dataset"},
    "game_rules": {"game_rules", "scenarios", "expert_trajectories", "srl_dataset"},
}


def _edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _lore(root: Path) -> Path:
    return root / "species" / "ghoul" / "lore.yaml"


def _rules(root: Path) -> Path:
    return root / "species" / "ghoul" / "rules.yaml"


def missing_field(root: Path) -> None:
    _edit_yaml(_lore(root), lambda d: d["passages"][3].pop("text"))


def mistyped_field(root: Path) -> None:
    _edit_yaml(_rules(root), lambda d: d["actions"][1].__setitem__("params", "player"))


def unknown_action(root: Path) -> None:
    _edit_yaml(_rules(root), lambda d: d["constraints"].append({"id": "no_flying", "forbid": ["fly_to_the_moon"]}))


def unknown_state_variable(root: Path) -> None:
    _edit_yaml(_rules(root), lambda d: d["actions"][0]["preconditions"].append({"id": "in_a_mood", "when": {"mood": "sullen"}}))


def contradictory_rules(root: Path) -> None:
    def change(d: dict) -> None:
        d["actions"][2]["preconditions"] += [{"id": "only_by_day", "when": {"time": "day"}},
                                             {"id": "only_by_night", "when": {"time": "night"}}]
    _edit_yaml(_rules(root), change)


def empty_file(root: Path) -> None:
    _lore(root).write_text("")


def invalid_utf8(root: Path) -> None:
    _rules(root).write_bytes(_rules(root).read_bytes().replace(b"species:", b"sp\xffecies:", 1))


def duplicate_ids(root: Path) -> None:
    _edit_yaml(_lore(root), lambda d: d["passages"][5].__setitem__("id", d["passages"][4]["id"]))


CASES = [
    # (mutation, failing asset, fragments the error must contain: file, record, field, what)
    (missing_field, "monster_lore", ["lore.yaml", "passages[3]", "field text", "missing required field"]),
    (mistyped_field, "game_rules", ["rules.yaml", "actions[1]", "field params", "expected a mapping"]),
    (unknown_action, "game_rules", ["rules.yaml", "(no_flying)", "field forbid", "unknown action(s) ['fly_to_the_moon']"]),
    (unknown_state_variable, "game_rules", ["rules.yaml", "actions[0]", ".when.mood", "unknown state variable 'mood'"]),
    (contradictory_rules, "game_rules", ["rules.yaml", "actions[2]", "field preconditions", "contradictory rules:", "only_by_day, only_by_night can never hold together"]),
    (empty_file, "monster_lore", ["lore.yaml", "record <file>", "file is empty"]),
    (invalid_utf8, "game_rules", ["rules.yaml", "record line 4: field <encoding>", "invalid UTF-8 at byte"]),
    (duplicate_ids, "monster_lore", ["lore.yaml", "passages[5]", "field id", "duplicate passage id"]),
]


def _snapshot(artifacts: Path) -> dict[str, bytes]:
    return {str(p.relative_to(artifacts)): p.read_bytes() for p in sorted(artifacts.rglob("*.json"))}


@pytest.mark.parametrize("mutate,failing,fragments", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_fails_clearly_and_loses_nothing(game_root: Path, tmp_path: Path, mutate, failing, fragments):
    artifacts = tmp_path / "artifacts"
    runner = Runner(make_resources(game_root, artifacts))
    assert runner.run("ghoul").success
    before = _snapshot(artifacts)
    assert len(before) == 6

    mutate(game_root)
    result = runner.run("ghoul")

    assert not result.success
    message = failure_messages(result)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error:\n{message}"
    assert not (DOWNSTREAM[failing] & materialized(result))
    assert _snapshot(artifacts) == before


@pytest.mark.parametrize("bad_key", ["../x", "a/b", "Vampire", "x" * 41])
def test_species_key_that_is_not_a_plain_identifier_is_refused(game_root: Path, tmp_path: Path, bad_key: str):
    artifacts = tmp_path / "artifacts"
    runner = Runner(make_resources(game_root, artifacts))
    result = runner.run(bad_key)
    assert not result.success
    assert "species name must match" in failure_messages(result)
    assert materialized(result) == set()
    assert not list(tmp_path.rglob("*.json"))
