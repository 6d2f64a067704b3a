"""World events switch rules on and off: the rules in force, their version, and the simulator."""

from __future__ import annotations

import pytest

from srl_pipeline.game.errors import GameDataError
from srl_pipeline.game.rules import RuleSet, parse_species_rules
from srl_pipeline.game.simulator import Call, Simulator
from srl_pipeline.game.sources import FileGameStateSource

from .conftest import species_rules, write_yaml

P = {"target": "player"}


def kinds(res):
    return [(v.rule, v.kind) for v in res.violations]


def test_no_events(ruleset):
    assert "howl" not in ruleset.actions and "rest" in ruleset.actions
    ids = [c.id for c in ruleset.constraints]
    assert "sunlight_burns" in ids and "blood_moon_frenzy" not in ids
    assert [p.id for p in ruleset.actions["move"].preconditions] == ["cannot_stay_put", "no_travel_by_day"]
    assert ruleset.summary()["events"] == [] and ruleset.summary()["rules_version"] == ruleset.version


def test_active_if_on_action_and_constraint(rules, ruleset):
    blood = RuleSet.resolve(rules, ["blood_moon"])
    assert "howl" in blood.actions
    assert "blood_moon_frenzy" in [c.id for c in blood.constraints]
    assert blood.version != ruleset.version
    sim = Simulator(blood)
    s = sim.initial_state()
    assert sim.run(s, [Call("howl", {})], "drive_off").success  # resolve 3 - 5 -> 0, the player flees
    assert kinds(Simulator(ruleset).run(s, [Call("howl", {})], "drive_off")) == [("unknown_action", "unknown_action")]
    res = sim.run(s, [Call("converse", {"topic": "weather"})], "strike_bargain")  # hunger 1 >= 1
    assert kinds(res) == [("blood_moon_frenzy", "forbidden")]
    res = sim.run(sim.initial_state({"hunger": 0}), [Call("converse", {"topic": "weather"})], "strike_bargain")
    assert res.legal
    assert Simulator(ruleset).run(s, [Call("converse", {"topic": "weather"})], "strike_bargain").legal


def test_inactive_if_on_action_constraint_and_precondition(rules, ruleset):
    ecl = RuleSet.resolve(rules, ["eclipse"])
    assert "rest" not in ecl.actions
    assert "sunlight_burns" not in [c.id for c in ecl.constraints]
    assert [p.id for p in ecl.actions["move"].preconditions] == ["cannot_stay_put"]
    # rules objects are not modified by resolving
    assert [p.id for p in rules.actions["move"].preconditions] == ["cannot_stay_put", "no_travel_by_day"]
    assert ecl.version not in (ruleset.version, RuleSet.resolve(rules, ["blood_moon"]).version)

    day = {"time": "day"}
    normal, eclipsed = Simulator(ruleset), Simulator(ecl)
    plan = [Call("move", {"to": "crypt"}), Call("intimidate", P), Call("rest", {})]
    res = normal.run(normal.initial_state(day), plan, "defend_lair")
    assert kinds(res) == [("no_travel_by_day", "precondition"), ("sunlight_burns", "forbidden")]
    assert res.final_state["hunger"] == 2
    res = eclipsed.run(eclipsed.initial_state(day), plan, "defend_lair")
    assert kinds(res) == [("unknown_action", "unknown_action")]
    assert res.final_state["location"] == "crypt" and res.final_state["player_resolve"] == 1


def test_version_depends_only_on_rules_in_force(rules, ruleset):
    # events no rule of this species mentions leave the rules, and so the version, unchanged
    assert RuleSet.resolve(rules, ["hunters_abroad"]).version == ruleset.version
    assert RuleSet.resolve(rules, ["harvest_festival", "hunters_abroad"]).version == ruleset.version
    both = RuleSet.resolve(rules, ["eclipse", "blood_moon"])
    assert both.version == RuleSet.resolve(rules, ("blood_moon", "eclipse", "blood_moon")).version
    assert both.version == RuleSet.resolve(rules, ["eclipse", "blood_moon"]).version  # stable
    assert len({ruleset.version, both.version, RuleSet.resolve(rules, ["eclipse"]).version,
                RuleSet.resolve(rules, ["blood_moon"]).version}) == 4
    assert both.events == frozenset({"eclipse", "blood_moon"})


def test_version_changes_with_rule_content(world, ruleset):
    raw = species_rules()
    raw["actions"][0]["effects"][0]["value"] = -3
    changed = RuleSet.resolve(parse_species_rules(raw, "x.yaml", world), [])
    assert changed.version != ruleset.version
    raw = species_rules()
    raw["constraints"][6]["when"] = {"hunger": {"gte": 2}}  # only in force under blood_moon
    changed = parse_species_rules(raw, "x.yaml", world)
    assert RuleSet.resolve(changed, []).version == ruleset.version
    assert RuleSet.resolve(changed, ["blood_moon"]).version != RuleSet.resolve(
        parse_species_rules(species_rules(), "y.yaml", world), ["blood_moon"]).version


def test_unknown_event_is_a_data_error(rules):
    with pytest.raises(GameDataError, match="solar_flare"):
        RuleSet.resolve(rules, ["solar_flare"])
    with pytest.raises(GameDataError, match="solar_flare"):
        RuleSet.resolve(rules, ["eclipse", "solar_flare"])


def test_unknown_event_in_rules_data(world):
    raw = species_rules()
    raw["actions"][12]["inactive_if"] = {"events": ["solar_flare"]}
    with pytest.raises(GameDataError) as err:
        parse_species_rules(raw, "ghast/rules.yaml", world)
    p = err.value.problems[0]
    assert (p.file, p.record, p.field) == ("ghast/rules.yaml", "actions[12] (rest)", "inactive_if.events")
    raw = species_rules()
    raw["actions"][5]["preconditions"][1]["inactive_if"] = {"events": ["solar_flare"]}
    with pytest.raises(GameDataError, match=r"record actions\[5\] \(move\) preconditions\[1\]: field inactive_if.events"):
        parse_species_rules(raw, "ghast/rules.yaml", world)
    raw = species_rules()
    raw["constraints"][0]["active_if"] = {"events": "eclipse"}  # not a list
    with pytest.raises(GameDataError, match=r"record constraints\[0\] \(no_uninvited_entry\): field active_if"):
        parse_species_rules(raw, "ghast/rules.yaml", world)


def test_event_gated_forbid_is_a_rule_not_a_contradiction(world):
    raw = species_rules()
    raw["constraints"].append({"id": "festival_fast", "forbid": ["feed"], "active_if": {"events": ["harvest_festival"]}})
    rules = parse_species_rules(raw, "ghast/rules.yaml", world)
    sim = Simulator(RuleSet.resolve(rules, ["harvest_festival"]))
    assert any(v.rule == "festival_fast" for v in sim.run(sim.initial_state(), [Call("feed", {"target": "player"})], "drive_off").violations)
    raw["constraints"].append({"id": "never_feed", "forbid": ["feed"]})  # ungated: the action can never be used
    with pytest.raises(GameDataError) as err:
        parse_species_rules(raw, "ghast/rules.yaml", world)
    p = err.value.problems[0]
    assert (p.file, p.record, p.field) == ("ghast/rules.yaml", "actions[11] (feed)", "name")
    assert "never_feed" in p.message


def test_game_state_file_drives_the_rules(tmp_path, rules, ruleset):
    path = write_yaml(tmp_path / "game_state.yaml", {"events": ["blood_moon", "blood_moon"]})
    src = FileGameStateSource(path)
    assert src.active_events() == ["blood_moon"]
    assert RuleSet.resolve(rules, src.active_events()).version == RuleSet.resolve(rules, ["blood_moon"]).version
    write_yaml(path, {"events": []})
    assert RuleSet.resolve(rules, src.active_events()).version == ruleset.version
    assert FileGameStateSource(tmp_path / "missing.yaml").active_events() == []
    write_yaml(path, {"events": "blood_moon"})
    with pytest.raises(GameDataError, match=r"game_state.yaml: record <file>: field events"):
        src.active_events()
    path.write_bytes(b"events: [blo\xffod_moon]\n")
    with pytest.raises(GameDataError, match="invalid UTF-8"):
        src.active_events()
