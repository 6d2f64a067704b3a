"""Bad game data: every class of mistake raises GameDataError naming the file, the record and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.lore import check_lore_against_rules, load_lore, parse_lore
from srl_pipeline.game.names import validate_species_name
from srl_pipeline.game.rules import load_species_rules, load_world, parse_world
from srl_pipeline.game.sources import FileLoreSource, GameFiles

from .conftest import TEST_WORLD, make_game_root, species_lore, species_rules, write_yaml


def assert_problem(err: GameDataError, file: str, record: str, field: str, fragment: str = "") -> None:
    hits = [p for p in err.problems if (p.file, p.record, p.field) == (file, record, field) and fragment in p.message]
    assert hits, f"no problem ({file}, {record}, {field}, ...{fragment}...) in:\n{err}"
    assert f"{file}: record {record}: field {field}: " in str(err)


def bad_rules(tmp_path: Path, world, mutate: Callable[[dict[str, Any]], Any]) -> tuple[str, GameDataError]:
    raw = species_rules()
    mutate(raw)
    path = write_yaml(tmp_path / "species" / "ghast" / "rules.yaml", raw)
    with pytest.raises(GameDataError) as err:
        load_species_rules(path, world, expected_species="ghast")
    return str(path), err.value


def bad_lore(tmp_path: Path, mutate: Callable[[dict[str, Any]], Any]) -> tuple[str, GameDataError]:
    raw = species_lore()
    mutate(raw)
    path = write_yaml(tmp_path / "species" / "ghast" / "lore.yaml", raw)
    with pytest.raises(GameDataError) as err:
        load_lore(path, expected_species="ghast")
    return str(path), err.value


def test_fixture_data_is_valid(tmp_path, world):
    files = make_game_root(tmp_path)
    assert set(files.load_rules("ghast", world).actions) >= {"intimidate", "howl"}
    lore = FileLoreSource(files).load("ghast")
    assert len(lore.passages) == 14


# -- missing fields --------------------------------------------------------------------
def test_missing_field_in_action(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][0].pop("effects"))
    assert_problem(err, file, "actions[0] (intimidate)", "effects", "missing required field")


def test_missing_field_at_top_level(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r.pop("lair"))
    assert_problem(err, file, "<file>", "lair", "missing required field")


def test_missing_precondition_parts(tmp_path, world):
    def mutate(r):
        del r["actions"][3]["preconditions"][1]["when"]
        del r["actions"][4]["preconditions"][1]["id"]
    file, err = bad_rules(tmp_path, world, mutate)
    assert_problem(err, file, "actions[3] (offer_bargain)", "preconditions[1].when", "missing required field")
    assert_problem(err, file, "actions[4] (ask_secret)", "preconditions[1].id", "missing required field")


def test_missing_goal_success_and_goal_type(tmp_path, world):
    def mutate(r):
        del r["goals"]["drive_off"]["success"]
        del r["goals"]["defend_lair"]
    file, err = bad_rules(tmp_path, world, mutate)
    assert_problem(err, file, "goals.drive_off", "success", "missing required field")
    assert_problem(err, file, "<file>", "goals", "defend_lair")


def test_missing_field_in_lore(tmp_path):
    file, err = bad_lore(tmp_path, lambda r: r["passages"][3].pop("text"))
    assert_problem(err, file, f"passages[3] ({species_lore()['passages'][3]['id']})", "text", "missing required field")
    file, err = bad_lore(tmp_path, lambda r: r.pop("passages"))
    assert_problem(err, file, "<file>", "passages", "missing required field")


def test_missing_field_in_world(tmp_path):
    raw = copy.deepcopy(TEST_WORLD)
    del raw["goal_types"]
    path = write_yaml(tmp_path / "world.yaml", raw)
    with pytest.raises(GameDataError) as err:
        load_world(path)
    assert_problem(err.value, str(path), "<world>", "goal_types", "missing required field")


# -- mistyped fields -------------------------------------------------------------------
def test_string_where_a_list_is_expected(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"][0].__setitem__("forbid", "enter_dwelling"))
    assert_problem(err, file, "constraints[0] (no_uninvited_entry)", "forbid", "list")
    file, err = bad_rules(tmp_path, world, lambda r: r.__setitem__("actions", "intimidate"))
    assert_problem(err, file, "<file>", "actions", "expected list, got str")
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][5]["params"].__setitem__("to", "crypt"))
    assert_problem(err, file, "actions[5] (move)", "params.to", "list")
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][0].__setitem__("effects", {"add": "trust"}))
    assert_problem(err, file, "actions[0] (intimidate)", "effects", "expected list, got dict")


def test_mistyped_values(tmp_path, world):
    def mutate(r):
        r["actions"][0]["effects"][0]["value"] = "two"                 # add needs an int
        r["actions"][3]["preconditions"][1]["when"]["trust"] = {"gte": "3"}
        r["state"]["hunger"]["default"] = "1"
        r["goals"]["drive_off"]["success"] = {"player_present": "no"}
        r["constraints"][5]["line"] = {"max_words": "six"}
    file, err = bad_rules(tmp_path, world, mutate)
    assert_problem(err, file, "actions[0] (intimidate)", "effects[0].value", "int")
    assert_problem(err, file, "actions[3] (offer_bargain)", "preconditions[1].when.trust.gte", "int")
    assert_problem(err, file, "<file>", "state.hunger.default", "not a valid int")
    assert_problem(err, file, "goals.drive_off", "success.player_present", "not valid for bool")
    assert_problem(err, file, "constraints[5] (short_lines)", "line.max_words", "non-negative int")


def test_mistyped_lore(tmp_path):
    file, err = bad_lore(tmp_path, lambda r: r.__setitem__("passages", "all of them"))
    assert_problem(err, file, "<file>", "passages", "expected list, got str")
    pid = species_lore()["passages"][2]["id"]
    file, err = bad_lore(tmp_path, lambda r: r["passages"][2].__setitem__("title", 42))
    assert_problem(err, file, f"passages[2] ({pid})", "title", "expected str, got int")
    file, err = bad_lore(tmp_path, lambda r: r["passages"][2].__setitem__("actions", "intimidate"))
    assert_problem(err, file, f"passages[2] ({pid})", "actions", "list")
    file, err = bad_lore(tmp_path, lambda r: r["passages"][2].__setitem__("kind", "rumour"))
    assert_problem(err, file, f"passages[2] ({pid})", "kind", "rumour")


def test_mistyped_world(tmp_path):
    for key, value, fragment in [("player_profiles", ["hostile"], "mapping"),
                                 ("reactions", {"player_flees": {}}, "list"),
                                 ("goal_types", "drive_off", "list")]:
        raw = copy.deepcopy(TEST_WORLD)
        raw[key] = value
        with pytest.raises(GameDataError) as err:
            parse_world(raw, "w.yaml")
        assert_problem(err.value, "w.yaml", "<world>", key, fragment)
    raw = copy.deepcopy(TEST_WORLD)
    raw["player_profiles"]["hostile"] = [4]
    with pytest.raises(GameDataError) as err:
        parse_world(raw, "w.yaml")
    assert_problem(err.value, "w.yaml", "player_profiles.hostile", "<record>", "mapping")


# -- references --------------------------------------------------------------------------
def test_unknown_action_in_constraint(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"][3].__setitem__("for", ["converse", "fly"]))
    assert_problem(err, file, "constraints[3] (bargains_need_a_face)", "for", "unknown action(s) ['fly']")
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"][0].__setitem__("forbid", ["fly"]))
    assert_problem(err, file, "constraints[0] (no_uninvited_entry)", "forbid", "fly")


def test_unknown_action_in_lore(tmp_path, world, rules):
    lore = parse_lore(species_lore(), "ghast/lore.yaml")
    check_lore_against_rules(lore, set(rules.actions))
    raw = species_lore()
    raw["passages"][5]["actions"] = ["intimidate", "fly"]
    with pytest.raises(GameDataError) as err:
        check_lore_against_rules(parse_lore(raw, "ghast/lore.yaml"), set(rules.actions))
    assert_problem(err.value, "ghast/lore.yaml", f"passages[5] ({raw['passages'][5]['id']})", "actions", "fly")


def test_unknown_state_variable_in_precondition(tmp_path, world):
    file, err = bad_rules(tmp_path, world,
                          lambda r: r["actions"][0]["preconditions"].append({"id": "sane", "when": {"sanity": 3}}))
    assert_problem(err, file, "actions[0] (intimidate)", "preconditions[1].when.sanity", "unknown state variable 'sanity'")


def test_unknown_state_variable_and_parameter_in_effects(tmp_path, world):
    def mutate(r):
        r["actions"][1]["effects"].append({"set": "mood", "value": True})
        r["actions"][5]["effects"][0]["value"] = "$destination"
    file, err = bad_rules(tmp_path, world, mutate)
    assert_problem(err, file, "actions[1] (soothe)", "effects[1].set", "unknown state variable 'mood'")
    assert_problem(err, file, "actions[5] (move)", "effects[0].value", "unknown parameter reference '$destination'")


def test_parameter_reference_inside_a_not_list(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][5]["preconditions"][0].__setitem__(
        "when", {"location": {"not": ["$to", "road"]}}))
    assert_problem(err, file, "actions[5] (move)", "preconditions[0].when.location.not", "parameter references")


def test_unknown_event_referenced(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"][6].__setitem__("active_if", {"events": ["comet"]}))
    assert_problem(err, file, "constraints[6] (blood_moon_frenzy)", "active_if.events", "comet")


# -- contradictions ----------------------------------------------------------------------
def test_preconditions_that_never_hold_together(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][3]["preconditions"].append(
        {"id": "only_with_strangers", "when": {"trust": {"lte": 2}}}))
    assert_problem(err, file, "actions[3] (offer_bargain)", "preconditions", "contradictory rules")
    msg = next(p.message for p in err.problems if p.record == "actions[3] (offer_bargain)")
    assert "needs_trust" in msg and "only_with_strangers" in msg and "'trust'" in msg


def test_precondition_contradicts_require_constraint(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][2]["preconditions"].append(
        {"id": "talks_as_a_bat", "when": {"form": "bat"}}))
    assert_problem(err, file, "actions[2] (converse)", "preconditions", "constraint bargains_need_a_face")


def test_has_and_lacks_the_same_item(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][10]["preconditions"].append(
        {"id": "no_gold", "when": {"player_items": {"lacks": "gold"}}}) or
        r["actions"][10]["preconditions"].append({"id": "gold", "when": {"player_items": {"has": "gold"}}}))
    assert_problem(err, file, "actions[10] (take_item)", "preconditions", "no_gold")


@pytest.mark.parametrize("when", [None, {}])
def test_action_always_forbidden(tmp_path, world, when):
    con = {"id": "no_feeding", "forbid": ["feed"]}
    if when is not None:
        con["when"] = when
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"].append(con))
    assert_problem(err, file, "actions[11] (feed)", "name", "always forbidden by ['no_feeding']")


def test_action_sets_one_variable_to_two_values(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][11]["effects"].append({"set": "combat", "value": False}))
    assert_problem(err, file, "actions[11] (feed)", "effects", "'combat'")


def test_invariant_broken_by_defaults(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"][4].__setitem__("invariant", {"hunger": {"gte": 2}}))
    assert_problem(err, file, "constraints[4] (never_starving)", "invariant", "defaults")


def test_contradictory_goal_and_line(tmp_path, world):
    def mutate(r):
        r["goals"]["drive_off"]["success"] = {"trust": {"gte": 6}}  # trust is 0..5
        r["constraints"][5]["line"] = {"min_words": 5, "max_words": 2}
    file, err = bad_rules(tmp_path, world, mutate)
    assert_problem(err, file, "goals.drive_off", "success", "can never hold")
    assert_problem(err, file, "constraints[5] (short_lines)", "line", "min_words > max_words")


def test_empty_list_of_allowed_values(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["goals"]["extract_secret"].__setitem__(
        "success", {"location": ["dwelling"], "time": []}))
    assert_problem(err, file, "goals.extract_secret", "success.time", "empty list")


# -- files -----------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n"])
def test_empty_file(tmp_path, world, content):
    for name, load in [("rules.yaml", lambda p: load_species_rules(p, world)), ("lore.yaml", load_lore),
                       ("world.yaml", load_world)]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(GameDataError) as err:
            load(path)
        assert_problem(err.value, str(path), "<file>", "<content>", "file is empty")


def test_comment_only_or_non_mapping_file(tmp_path, world):
    path = tmp_path / "rules.yaml"
    for content, kind in [(b"# nothing here\n", "NoneType"), (b"- a\n- b\n", "list"), (b"just text\n", "str")]:
        path.write_bytes(content)
        with pytest.raises(GameDataError) as err:
            load_species_rules(path, world)
        assert_problem(err.value, str(path), "<file>", "<content>", kind)


def test_invalid_yaml_syntax(tmp_path):
    path = tmp_path / "lore.yaml"
    path.write_bytes(b"species: ghast\npassages: [\n  {id: a\n")
    with pytest.raises(GameDataError) as err:
        load_lore(path)
    assert err.value.problems[0].file == str(path) and err.value.problems[0].field == "<syntax>"
    assert err.value.problems[0].record.startswith("line ")


def test_invalid_utf8(tmp_path, world):
    for name, load in [("rules.yaml", lambda p: load_species_rules(p, world)), ("lore.yaml", load_lore),
                       ("world.yaml", load_world)]:
        path = tmp_path / name
        path.write_bytes(b"species: gh\xffast\n")
        with pytest.raises(GameDataError) as err:
            load(path)
        assert_problem(err.value, str(path), "line 1", "<encoding>", "invalid UTF-8 at byte 11")


def test_missing_files(tmp_path):
    files = make_game_root(tmp_path)
    (files.rules_path("ghast")).unlink()
    with pytest.raises(GameDataError) as err:
        files.load_rules("ghast")
    assert_problem(err.value, str(files.rules_path("ghast")), "<file>", "<content>", "missing")
    with pytest.raises(GameDataError) as err:
        FileLoreSource(files).load("nobody")
    assert_problem(err.value, str(files.lore_path("nobody")), "<file>", "<content>", "missing")


# -- species names ---------------------------------------------------------------------
BAD_NAMES = ["../x", "a/b", "", "Vampire", "9lives", "x" * 41, "we-wolf", "a b", ".", "..", "a\\b", "ä"]


@pytest.mark.parametrize("name", BAD_NAMES + [None, 3])
def test_validate_species_name_rejects(name):
    with pytest.raises(GameDataError) as err:
        validate_species_name(name, "somewhere")
    assert_problem(err.value, "somewhere", repr(name), "species", "must match")


@pytest.mark.parametrize("name", ["vampire", "a", "a_1", "x" * 40, "ghoul_king"])
def test_validate_species_name_accepts(name):
    assert validate_species_name(name) == name


@pytest.mark.parametrize("name", ["../x", "a/b", "", None])
def test_species_field_must_be_plain(tmp_path, world, name):
    file, err = bad_rules(tmp_path, world, lambda r: r.__setitem__("species", name))
    assert_problem(err, file, "<file>", "species", "not a plain identifier")
    file, err = bad_lore(tmp_path, lambda r: r.__setitem__("species", name))
    assert_problem(err, file, "<file>", "species", "not a plain identifier" if isinstance(name, str) else "expected str, got null")


def test_species_field_must_match_folder(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r.__setitem__("species", "wraith"))
    assert_problem(err, file, "<file>", "species", "belongs to species 'ghast'")
    file, err = bad_lore(tmp_path, lambda r: r.__setitem__("species", "wraith"))
    assert_problem(err, file, "<file>", "species", "belongs to species 'ghast'")


def test_species_folders(tmp_path):
    files = make_game_root(tmp_path)
    for bad in ["Bad-Name", "9lives", "UPPER", "has space"]:
        write_yaml(tmp_path / "species" / bad / "lore.yaml", species_lore())
    (tmp_path / "species" / "no_lore_yet").mkdir()
    (tmp_path / "species" / "stray_file.yaml").write_text("x: 1")
    assert files.list_species() == ["ghast"]
    assert FileLoreSource(files).list_species() == ["ghast"]
    assert set(FileLoreSource(files).fingerprints()) == {"ghast"}
    problems = files.invalid_species()
    assert sorted(p.record for p in problems) == sorted(repr(n) for n in ["Bad-Name", "9lives", "UPPER", "has space"])
    for p in problems:
        assert p.field == "species" and p.file == str(tmp_path / "species" / eval(p.record))
    for bad in ["../x", "a/b", ""]:
        with pytest.raises(GameDataError) as err:
            files.species_dir(bad)
        assert_problem(err.value, str(tmp_path / "species"), repr(bad), "species")
        with pytest.raises(GameDataError):
            FileLoreSource(files).load(bad)
        with pytest.raises(GameDataError):
            files.load_rules(bad)


# -- duplicates --------------------------------------------------------------------------
def test_duplicate_passage_ids(tmp_path):
    pid = species_lore()["passages"][0]["id"]
    file, err = bad_lore(tmp_path, lambda r: r["passages"][1].__setitem__("id", pid))
    assert_problem(err, file, f"passages[1] ({pid})", "id", f"duplicate passage id {pid!r}")


def test_duplicate_action_names(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"].append(copy.deepcopy(r["actions"][0])))
    assert_problem(err, file, "actions[14] (intimidate)", "name", "duplicate action name 'intimidate'")


def test_duplicate_constraint_ids(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["constraints"].append(
        {"id": "garlic_wards", "forbid": ["intimidate"], "when": {"player_items": {"has": "garlic"}}}))
    assert_problem(err, file, "constraints[7] (garlic_wards)", "id", "duplicate constraint id 'garlic_wards'")


def test_duplicate_precondition_ids(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r["actions"][3]["preconditions"].append(
        {"id": "needs_trust", "when": {"trust": {"gte": 1}}}))
    assert_problem(err, file, "actions[3] (offer_bargain)", "preconditions[2].id", "duplicate precondition id")


# -- minimum content and one-pass reporting --------------------------------------------
def test_too_few_actions_goals_passages(tmp_path, world):
    file, err = bad_rules(tmp_path, world, lambda r: r.__setitem__("actions", r["actions"][:7]))
    assert_problem(err, file, "<file>", "actions", "at least 8")
    file, err = bad_lore(tmp_path, lambda r: r.__setitem__("passages", r["passages"][:11]))
    assert_problem(err, file, "<file>", "passages", "at least 12")
    file, err = bad_lore(tmp_path, lambda r: r.__setitem__(
        "passages", [p for p in r["passages"] if p["kind"] != "taboo"] + [
            {"id": f"extra-{i}", "kind": "history", "title": "t", "text": "An old tale of the dead."} for i in range(3)]))
    assert_problem(err, file, "<file>", "passages", "taboo")


def test_all_problems_reported_in_one_pass(tmp_path, world):
    def mutate(r):
        r["actions"][0].pop("effects")
        r["constraints"][0]["forbid"] = ["fly"]
        r["actions"][1]["preconditions"] = [{"id": "x", "when": {"sanity": 1}}]
    file, err = bad_rules(tmp_path, world, mutate)
    assert len(err.problems) == 3
    assert {p.file for p in err.problems} == {file}
    assert len(str(err).splitlines()) == 3
