"""Small, self-contained game data for the domain tests (independent of configs/game/species)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from srl_pipeline.game.rules import RuleSet, World, parse_species_rules, parse_world
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.sources import GameFiles

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_WORLD = REPO_ROOT / "configs" / "game" / "world.yaml"

TEST_WORLD: dict[str, Any] = {
    "state": {
        "time": {"type": "enum", "values": ["day", "night"], "default": "night"},
        "moon": {"type": "enum", "values": ["new", "full"], "default": "new"},
        "location": {"type": "enum", "values": ["village", "forest", "crypt", "castle", "dwelling", "road"],
                     "default": "road"},
        "player_items": {"type": "set", "values": ["garlic", "silver", "gold", "torch"], "default": []},
        "player_behavior": {"type": "enum", "values": ["hostile", "fearful", "curious", "bargaining"],
                            "default": "curious"},
        "player_present": {"type": "bool", "default": True},
        "player_resolve": {"type": "int", "min": 0, "max": 5, "default": 3},
        "trust": {"type": "int", "min": 0, "max": 5, "default": 0},
        "combat": {"type": "bool", "default": False},
        "secret_revealed": {"type": "bool", "default": False},
        "deal_struck": {"type": "bool", "default": False},
        "lair_intact": {"type": "bool", "default": True},
    },
    "events": {
        "blood_moon": "A crimson moon.",
        "eclipse": "The sun is swallowed.",
        "harvest_festival": "Bells and torches.",
        "hunters_abroad": "Hunters on the roads.",
    },
    "player_profiles": {
        "hostile": {"player_resolve": 4, "trust": 0},
        "fearful": {"player_resolve": 2, "trust": 0},
        "curious": {"player_resolve": 3, "trust": 1},
        "bargaining": {"player_resolve": 3, "trust": 2},
    },
    "reactions": [
        {"id": "player_flees", "when": {"player_resolve": 0, "player_present": True},
         "effects": [{"set": "player_present", "value": False}]},
        {"id": "hostile_player_attacks", "when": {"player_behavior": "hostile", "player_resolve": 5, "player_present": True},
         "effects": [{"set": "combat", "value": True}]},
    ],
    "goal_types": ["drive_off", "strike_bargain", "extract_secret", "defend_lair"],
}

HERE = {"id": "player_is_here", "when": {"player_present": True}}


def species_rules(species: str = "ghast") -> dict[str, Any]:
    """A small but complete rules file: 14 actions, every constraint kind, event gates, 4 goals."""
    return copy.deepcopy({
        "species": species,
        "lair": "crypt",
        "state": {
            "hunger": {"type": "int", "min": 0, "max": 3, "default": 1},
            "form": {"type": "enum", "values": ["man", "bat"], "default": "man"},
            "marked": {"type": "set", "values": ["door", "tree"], "default": []},
            "invited": {"type": "bool", "default": False},
        },
        "actions": [
            {"name": "intimidate", "params": {"target": ["player"]}, "preconditions": [HERE],
             "effects": [{"add": "player_resolve", "value": -2}]},
            {"name": "soothe", "params": {"target": ["player"]}, "preconditions": [HERE],
             "effects": [{"add": "trust", "value": 2}]},
            {"name": "converse", "params": {"topic": ["weather", "lineage"]}, "preconditions": [HERE],
             "effects": [{"add": "trust", "value": 1}, {"add": "player_resolve", "value": 1}]},
            {"name": "offer_bargain", "params": {"price": ["gold", "passage"]},
             "preconditions": [HERE, {"id": "needs_trust", "when": {"trust": {"gte": 3}}}],
             "effects": [{"set": "deal_struck", "value": True}]},
            {"name": "ask_secret", "params": {"about": ["hunters", "relic"]},
             "preconditions": [HERE, {"id": "needs_deep_trust", "when": {"trust": {"gte": 4}}}],
             "effects": [{"set": "secret_revealed", "value": True}]},
            {"name": "move", "params": {"to": ["village", "forest", "crypt", "castle", "road"]},
             "preconditions": [{"id": "cannot_stay_put", "when": {"location": {"not": "$to"}}},
                               {"id": "no_travel_by_day", "when": {"time": {"not": "day"}},
                                "inactive_if": {"events": ["eclipse"]}}],
             "effects": [{"set": "location", "value": "$to"}]},
            {"name": "enter_dwelling", "params": {},
             "preconditions": [{"id": "dwellings_are_in_the_village", "when": {"location": "village"}}],
             "effects": [{"set": "location", "value": "dwelling"}]},
            {"name": "transform", "params": {"form": ["man", "bat"]},
             "preconditions": [{"id": "already_in_that_form", "when": {"form": {"not": "$form"}}}],
             "effects": [{"set": "form", "value": "$form"}]},
            {"name": "mark", "params": {"sign": ["door", "tree"]},
             "effects": [{"add_item": "marked", "value": "$sign"}]},
            {"name": "unmark", "params": {"sign": ["door", "tree"]},
             "preconditions": [{"id": "must_be_marked", "when": {"marked": {"has": "$sign"}}}],
             "effects": [{"remove_item": "marked", "value": "$sign"}]},
            {"name": "take_item", "params": {"item": ["garlic", "silver", "gold", "torch"]},
             "preconditions": [HERE, {"id": "player_has_it", "when": {"player_items": {"has": "$item"}}}],
             "effects": [{"remove_item": "player_items", "value": "$item"}]},
            {"name": "feed", "params": {"target": ["player"]}, "preconditions": [HERE],
             "effects": [{"set": "combat", "value": True}, {"set": "hunger", "value": 0}]},
            {"name": "rest", "params": {}, "inactive_if": {"events": ["eclipse"]},
             "effects": [{"add": "hunger", "value": 1}]},
            {"name": "howl", "params": {}, "active_if": {"events": ["blood_moon"]}, "preconditions": [HERE],
             "effects": [{"add": "player_resolve", "value": -5}]},
        ],
        "constraints": [
            {"id": "no_uninvited_entry", "forbid": ["enter_dwelling"], "when": {"invited": False}},
            {"id": "sunlight_burns", "forbid": ["feed", "intimidate"], "when": {"time": "day"},
             "inactive_if": {"events": ["eclipse"]}},
            {"id": "garlic_wards", "forbid": ["feed"], "when": {"player_items": {"has": "garlic"}}},
            {"id": "bargains_need_a_face", "require": {"form": "man"}, "for": ["offer_bargain", "converse"]},
            {"id": "never_starving", "invariant": {"hunger": {"lte": 2}}},
            {"id": "short_lines", "line": {"min_words": 2, "max_words": 6}},
            {"id": "blood_moon_frenzy", "forbid": ["converse"], "when": {"hunger": {"gte": 1}},
             "active_if": {"events": ["blood_moon"]}},
        ],
        "goals": {
            "drive_off": {"success": {"player_present": False}, "fail": {"combat": True}},
            "strike_bargain": {"success": {"deal_struck": True}, "fail": {"combat": True}},
            "extract_secret": {"success": {"secret_revealed": True}, "fail": {"combat": True}},
            "defend_lair": {"success": {"player_present": False, "location": "crypt", "lair_intact": True}},
            # fail can hold after one step and stop holding later: tests "fail after any step"
            "lure_to_castle": {"success": {"location": "castle", "trust": {"gte": 3}}, "fail": {"form": "bat"}},
        },
    })


LORE_KINDS_CYCLE = ["trait", "ability", "weakness", "taboo", "voice", "example_line", "history"]


def species_lore(species: str = "ghast", n: int = 14) -> dict[str, Any]:
    passages = []
    for i in range(n):
        kind = LORE_KINDS_CYCLE[i % len(LORE_KINDS_CYCLE)]
        p = {"id": f"{species}-{kind.replace('_', '-')}-{i:02d}", "kind": kind,
             "title": f"{kind.title()} {i}", "text": f"The {species} and its {kind} number {i}."}
        if kind == "example_line":
            p["actions"] = ["intimidate"]
        passages.append(p)
    return {"species": species, "passages": passages}


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def make_game_root(root: Path, species: str = "ghast", world: dict | None = None,
                   events: list[str] | None = None) -> GameFiles:
    write_yaml(root / "world.yaml", world if world is not None else TEST_WORLD)
    write_yaml(root / "game_state.yaml", {"events": events or []})
    write_yaml(root / "species" / species / "rules.yaml", species_rules(species))
    write_yaml(root / "species" / species / "lore.yaml", species_lore(species))
    return GameFiles(root)


@pytest.fixture(scope="session")
def world() -> World:
    return parse_world(copy.deepcopy(TEST_WORLD), "test-world.yaml")


@pytest.fixture(scope="session")
def rules(world):
    return parse_species_rules(species_rules(), "species/ghast/rules.yaml", world, expected_species="ghast")


@pytest.fixture(scope="session")
def ruleset(rules) -> RuleSet:
    return RuleSet.resolve(rules, [])


@pytest.fixture(scope="session")
def sim(ruleset) -> Simulator:
    return Simulator(ruleset)
