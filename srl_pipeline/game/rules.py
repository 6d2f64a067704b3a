"""The game's rules as data: the shared world and each species' catalogue, constraints, goals.

`parse_world` and `parse_species_rules` validate raw YAML mappings; `RuleSet.resolve` applies the
live world events to give the rules *in force*, checks them for contradictions and hashes them
into the rules version that every downstream artifact records.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .conditions import (
    VAR_TYPES, Condition, ConditionParser, Effect, VarSpec, allowed_values, compile_effect,
)
from ..core.hashing import content_hash
from .documents import read_yaml
from ..core.validation import suggest
from .errors import GameDataError, Problem, ProblemLog
from .names import IDENTIFIER, SPECIES_NAME
from .schemas import parse_with_shape, rules_shape_problems, world_shape_problems

CONSTRAINT_KINDS = ("forbid", "require", "invariant", "line")
MIN_ACTIONS = 8
MIN_GOALS = 4


# ---------------------------------------------------------------------------------------
# World
# ---------------------------------------------------------------------------------------
@dataclass
class Reaction:
    id: str
    when: Condition
    effects: list[Effect]


@dataclass
class World:
    state: dict[str, VarSpec]
    events: dict[str, str]
    player_profiles: dict[str, dict[str, Any]]
    reactions: list[Reaction]
    goal_types: list[str]
    raw: dict[str, Any]
    file: str = "<world>"


def _parse_state_vars(raw: Any, log: ProblemLog, record: str, existing: dict[str, VarSpec]) -> dict[str, VarSpec]:
    out: dict[str, VarSpec] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        log.add(record, "state", f"expected a mapping of variable: spec, got {type(raw).__name__}")
        return out
    for name, spec in raw.items():
        where = f"state.{name}"
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            log.add(record, where, "variable names are identifiers")
            continue
        if name in existing:
            log.add(record, where, f"variable {name!r} is already defined by the world")
            continue
        if not isinstance(spec, dict):
            log.add(record, where, "expected a mapping with type and default")
            continue
        vtype = spec.get("type")
        if vtype not in VAR_TYPES:
            log.add(record, f"{where}.type", f"type must be one of {VAR_TYPES}, got {vtype!r}")
            continue
        values = tuple(spec.get("values") or ())
        if vtype in ("enum", "set"):
            if not values or not all(isinstance(v, str) and IDENTIFIER.match(v) for v in values):
                log.add(record, f"{where}.values", "enum/set variables need a list of identifier values")
                continue
            if len(set(values)) != len(values):
                log.add(record, f"{where}.values", "duplicate values")
                continue
        lo, hi = spec.get("min", 0), spec.get("max", 0)
        if vtype == "int" and not (isinstance(lo, int) and isinstance(hi, int) and lo <= hi):
            log.add(record, f"{where}.min", f"int variables need integer min <= max, got {lo!r}..{hi!r}")
            continue
        if "default" not in spec:
            log.add(record, f"{where}.default", "missing required field")
            continue
        default = spec["default"]
        try:
            var = VarSpec(name, vtype, values, lo, hi, frozenset(default) if vtype == "set" and isinstance(default, list) else default)
            valid = var.accepts(var.default)
        except TypeError:  # e.g. a set default holding mappings
            valid = False
        if not valid:
            log.add(record, f"{where}.default", f"default {default!r} is not a valid {vtype}")
            continue
        out[name] = var
    return out


def parse_world(raw: dict[str, Any], file: str) -> World:
    """Validate the world: its shape (:class:`.schemas.WorldSchema`), then variables, events,
    profiles, reactions and goal types; every problem is reported together, each naming file,
    record and field."""
    return parse_with_shape(world_shape_problems(raw, file), lambda: _parse_world(raw, file))


def _parse_world(raw: dict[str, Any], file: str) -> World:
    log = ProblemLog(file)
    for key in ("state", "events", "player_profiles", "reactions", "goal_types"):
        if key not in raw:
            log.add("<world>", key, "missing required field")
    log.raise_if_any()
    state = _parse_state_vars(raw["state"], log, "<world>", {})
    events = raw["events"] if isinstance(raw["events"], dict) else {}
    if not isinstance(raw["events"], dict) or not all(isinstance(k, str) and IDENTIFIER.match(k) for k in events):
        log.add("<world>", "events", "expected a mapping of event identifier: description")
    parser = ConditionParser(state, log)
    profiles: dict[str, dict[str, Any]] = {}
    behaviours = state.get("player_behavior")
    raw_profiles = raw["player_profiles"] or {}
    if not isinstance(raw_profiles, dict):
        log.add("<world>", "player_profiles", f"expected a mapping of behaviour: {{variable: value}}, got {type(raw_profiles).__name__}")
        raw_profiles = {}
    for name, values in raw_profiles.items():
        record = f"player_profiles.{name}"
        if behaviours is None or name not in behaviours.values:
            log.add(record, "<key>", f"{name!r} is not a value of player_behavior")
            continue
        if values is not None and not isinstance(values, dict):
            log.add(record, "<record>", f"expected a mapping of variable: value, got {type(values).__name__}")
            continue
        for var, value in (values or {}).items():
            if var not in state or not state[var].accepts(value):
                log.add(record, var, f"unknown variable or invalid value {value!r}")
        profiles[name] = dict(values or {})
    reactions = []
    raw_reactions = raw["reactions"] or []
    if not isinstance(raw_reactions, list):
        log.add("<world>", "reactions", f"expected a list of reactions, got {type(raw_reactions).__name__}")
        raw_reactions = []
    for i, r in enumerate(raw_reactions):
        record = f"reactions[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("id"), str):
            log.add(record, "id", "missing required field")
            continue
        record = f"reactions[{i}] ({r['id']})"
        when = parser.condition(r.get("when"), record, "when")
        effects = _parse_effects(parser, r.get("effects"), record, {}, state)
        reactions.append(Reaction(r["id"], when, effects))
    goal_types = raw["goal_types"]
    if not isinstance(goal_types, list) or not all(isinstance(g, str) and IDENTIFIER.match(g) for g in goal_types):
        log.add("<world>", "goal_types", "expected a list of identifiers")
        goal_types = []
    log.raise_if_any()
    return World(state, dict(events), profiles, reactions, list(goal_types), raw, file)


def load_world(path: Path, root: Path | None = None) -> World:
    return parse_world(read_yaml(path, root), str(path))


# ---------------------------------------------------------------------------------------
# Species rules
# ---------------------------------------------------------------------------------------
@dataclass
class Gate:
    """active_if / inactive_if on world events."""

    active_if: frozenset = frozenset()
    inactive_if: frozenset = frozenset()

    def in_force(self, events: frozenset) -> bool:
        if self.active_if and not (self.active_if & events):
            return False
        return not (self.inactive_if & events)


@dataclass
class Precondition:
    id: str
    when: Condition
    gate: Gate


@dataclass
class Action:
    name: str
    description: str
    params: dict[str, tuple]
    preconditions: list[Precondition]
    effects: list[Effect]
    effect_specs: list[tuple[str, str, Any]]
    gate: Gate
    index: int


@dataclass
class Constraint:
    id: str
    kind: str
    description: str
    gate: Gate
    actions: tuple[str, ...] = ()
    condition: Condition | None = None  # forbid: when; require: require; invariant: invariant
    min_words: int | None = None
    max_words: int | None = None
    index: int = 0


@dataclass
class Goal:
    name: str
    description: str
    success: Condition
    fail: Condition | None


@dataclass
class SpeciesRules:
    species: str
    lair: str
    state: dict[str, VarSpec]  # world + species variables
    actions: dict[str, Action]
    constraints: list[Constraint]
    goals: dict[str, Goal]
    raw: dict[str, Any]
    file: str
    world: World


def _parse_gate(raw: dict[str, Any], log: ProblemLog, record: str, events: dict[str, str]) -> Gate:
    sets = []
    for key in ("active_if", "inactive_if"):
        spec = raw.get(key)
        if spec is None:
            sets.append(frozenset())
            continue
        names = spec.get("events") if isinstance(spec, dict) else None
        if not isinstance(names, list) or not names:
            log.add(record, key, "expected {events: [event, ...]}")
            sets.append(frozenset())
            continue
        unknown = [n for n in names if n not in events]
        if unknown:
            log.add(record, f"{key}.events", f"unknown world event(s) {unknown}; known: {sorted(events)}")
        sets.append(frozenset(names))
    return Gate(sets[0], sets[1])


def _parse_effects(parser: ConditionParser, raw: Any, record: str, params: dict[str, tuple],
                   schema: dict[str, VarSpec]) -> list[Effect]:
    effects: list[Effect] = []
    if not isinstance(raw, list):
        parser.log.add(record, "effects", "expected a list of effects")
        return effects
    for j, e in enumerate(raw):
        parsed = parser.effect(e, record, f"effects[{j}]", params)
        if parsed is not None:
            effects.append(compile_effect(*parsed, schema[parsed[1]]))
    return effects


def _require(raw: dict[str, Any], key: str, kind: type | tuple, log: ProblemLog, record: str, fld: str | None = None) -> Any:
    if key not in raw:
        log.add(record, fld or key, "missing required field")
        return None
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        log.add(record, fld or key, f"expected {name}, got {type(value).__name__} {value!r}")
        return None
    return value


def parse_species_rules(raw: dict[str, Any], file: str, world: World, expected_species: str | None = None) -> SpeciesRules:
    """Validate one species' rules: their shape and bounds (:class:`.schemas.RulesSchema`), then every
    reference and condition against the world and the species' state; then the contradiction check.
    Every problem is reported together."""
    return parse_with_shape(rules_shape_problems(raw, file),
                            lambda: _parse_species_rules(raw, file, world, expected_species))


def _parse_species_rules(raw: dict[str, Any], file: str, world: World, expected_species: str | None) -> SpeciesRules:
    log = ProblemLog(file)
    species = raw.get("species")
    if not isinstance(species, str) or not SPECIES_NAME.match(species):
        raise GameDataError.single(file, "<file>", "species", f"{species!r} is not a plain identifier (^[a-z][a-z0-9_]{{0,39}}$)")
    if expected_species is not None and species != expected_species:
        log.add("<file>", "species", f"says {species!r} but the file belongs to species {expected_species!r}")
    state = dict(world.state)
    state.update(_parse_state_vars(raw.get("state"), log, "<file>", world.state))
    lair = _require(raw, "lair", str, log, "<file>")
    if lair is not None and ("location" not in state or lair not in state["location"].values):
        log.add("<file>", "lair", f"{lair!r} is not a location")
    parser = ConditionParser(state, log)

    actions: dict[str, Action] = {}
    raw_actions = _require(raw, "actions", list, log, "<file>") or []
    for i, a in enumerate(raw_actions):
        record = f"actions[{i}]"
        if not isinstance(a, dict):
            log.add(record, "<record>", "expected a mapping")
            continue
        name = _require(a, "name", str, log, record)
        if name is None:
            continue
        record = f"actions[{i}] ({name})"
        if not IDENTIFIER.match(name):
            log.add(record, "name", "action names are identifiers")
            continue
        if name in actions:
            log.add(record, "name", f"duplicate action name {name!r}")
            continue
        params: dict[str, tuple] = {}
        raw_params = a.get("params", {})
        if not isinstance(raw_params, dict):
            log.add(record, "params", f"expected a mapping of parameter: [values], got {type(raw_params).__name__}")
            raw_params = {}
        for p, values in raw_params.items():
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and IDENTIFIER.match(v) for v in values):
                log.add(record, f"params.{p}", "expected a non-empty list of identifier values")
                continue
            params[p] = tuple(values)
        pres = []
        raw_pres = a.get("preconditions", [])
        if not isinstance(raw_pres, list):
            log.add(record, "preconditions", "expected a list")
            raw_pres = []
        seen_pre: set[str] = set()
        for j, pre in enumerate(raw_pres):
            fld = f"preconditions[{j}]"
            if not isinstance(pre, dict):
                log.add(record, fld, "expected a mapping with id and when")
                continue
            pid = _require(pre, "id", str, log, record, f"{fld}.id")
            if pid is None:
                continue
            if pid in seen_pre:
                log.add(record, f"{fld}.id", f"duplicate precondition id {pid!r}")
            seen_pre.add(pid)
            if "when" not in pre:
                log.add(record, f"{fld}.when", "missing required field")
                continue
            pres.append(Precondition(pid, parser.condition(pre["when"], record, f"{fld}.when", params),
                                     _parse_gate(pre, log, f"{record} {fld}", world.events)))
        effect_specs = []
        raw_effects = _require(a, "effects", list, log, record) or []
        for j, e in enumerate(raw_effects):
            parsed = parser.effect(e, record, f"effects[{j}]", params)
            if parsed is not None:
                effect_specs.append(parsed)
        effects = [compile_effect(k, v, val, state[v]) for k, v, val in effect_specs]
        actions[name] = Action(name, str(a.get("description", "")), params, pres, effects, effect_specs,
                               _parse_gate(a, log, record, world.events), i)
    if len(actions) < MIN_ACTIONS and not log.problems:
        log.add("<file>", "actions", f"the catalogue needs at least {MIN_ACTIONS} actions, has {len(actions)}")

    constraints: list[Constraint] = []
    seen_ids: set[str] = set()
    for i, c in enumerate(_require(raw, "constraints", list, log, "<file>") or []):
        record = f"constraints[{i}]"
        if not isinstance(c, dict):
            log.add(record, "<record>", "expected a mapping")
            continue
        cid = _require(c, "id", str, log, record)
        if cid is None:
            continue
        record = f"constraints[{i}] ({cid})"
        if cid in seen_ids:
            log.add(record, "id", f"duplicate constraint id {cid!r}")
            continue
        seen_ids.add(cid)
        kinds = [k for k in CONSTRAINT_KINDS if k in c]
        if len(kinds) != 1:
            log.add(record, "<kind>", f"a constraint has exactly one of {CONSTRAINT_KINDS}, got {kinds}")
            continue
        kind = kinds[0]
        con = Constraint(cid, kind, str(c.get("description", "")), _parse_gate(c, log, record, world.events), index=i)
        if kind in ("forbid", "require"):
            names = c["forbid"] if kind == "forbid" else c.get("for")
            fld = "forbid" if kind == "forbid" else "for"
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                log.add(record, fld, "expected a non-empty list of action names")
                continue
            unknown = [n for n in names if n not in actions]
            if unknown:
                log.add(record, fld, f"unknown action(s) {unknown}")
                continue
            con.actions = tuple(names)
            if kind == "forbid":
                con.condition = parser.condition(c.get("when"), record, "when") if "when" in c else None
            else:
                con.condition = parser.condition(c["require"], record, "require")
        elif kind == "invariant":
            con.condition = parser.condition(c["invariant"], record, "invariant")
        else:
            spec = c["line"]
            if not isinstance(spec, dict) or not spec or set(spec) - {"min_words", "max_words"}:
                log.add(record, "line", "expected {min_words: n} and/or {max_words: n}")
                continue
            for key in ("min_words", "max_words"):
                if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 0):
                    log.add(record, f"line.{key}", f"expected a non-negative int, got {spec[key]!r}")
            con.min_words, con.max_words = spec.get("min_words"), spec.get("max_words")
        constraints.append(con)

    goals: dict[str, Goal] = {}
    raw_goals = _require(raw, "goals", dict, log, "<file>") or {}
    for name, g in raw_goals.items():
        record = f"goals.{name}"
        if not isinstance(g, dict):
            log.add(record, "<record>", "expected a mapping with success (and fail)")
            continue
        if "success" not in g:
            log.add(record, "success", "missing required field")
            continue
        goals[name] = Goal(str(name), str(g.get("description", "")),
                           parser.condition(g["success"], record, "success"),
                           parser.condition(g["fail"], record, "fail") if g.get("fail") is not None else None)
    missing = [g for g in world.goal_types if g not in raw_goals]
    if missing:
        log.add("<file>", "goals", f"missing goal type(s) {missing}")
    if len(goals) < MIN_GOALS and not log.problems:
        log.add("<file>", "goals", f"at least {MIN_GOALS} goals are needed, got {len(goals)}")
    log.raise_if_any()
    rules = SpeciesRules(species, lair, state, actions, constraints, goals, raw, file, world)
    find_contradictions(rules, frozenset())
    return rules


def load_species_rules(path: Path, world: World, expected_species: str | None = None,
                       root: Path | None = None) -> SpeciesRules:
    return parse_species_rules(read_yaml(path, root), str(path), world, expected_species)


# ---------------------------------------------------------------------------------------
# Rules in force
# ---------------------------------------------------------------------------------------
def find_contradictions(rules: SpeciesRules, events: frozenset) -> None:
    """Raise GameDataError for rules that can never be satisfied together under `events`."""
    log = ProblemLog(rules.file)
    requires = [c for c in rules.constraints if c.kind == "require" and c.gate.in_force(events)]
    for action in rules.actions.values():
        if not action.gate.in_force(events):
            continue
        record = f"actions[{action.index}] ({action.name})"
        pres = [p for p in action.preconditions if p.gate.in_force(events)]
        reqs = [c for c in requires if action.name in c.actions]
        atoms = [a for p in pres for a in p.when.atoms] + [a for c in reqs for a in c.condition.atoms]
        for var, spec in rules.state.items():
            allowed = allowed_values(atoms, spec)
            if allowed is not None and not allowed:
                names = [p.id for p in pres if any(a.var == var for a in p.when.atoms)]
                names += [f"constraint {c.id}" for c in reqs if any(a.var == var for a in c.condition.atoms)]
                log.add(record, "preconditions", f"contradictory rules: {', '.join(names)} can never hold together (on {var!r})")
        setters: dict[str, set] = {}
        for kind, var, value in action.effect_specs:
            if kind == "set" and not hasattr(value, "param"):
                setters.setdefault(var, set()).add(value)
        for var, values in setters.items():
            if len(values) > 1:
                log.add(record, "effects", f"contradictory effects: {var!r} set to {sorted(map(str, values))}")
        # an event-gated forbid ("no feeding during the festival") is a rule, not a contradiction
        always = [c.id for c in rules.constraints if c.kind == "forbid" and c.gate.in_force(events) and not c.gate.active_if
                  and (c.condition is None or not (c.condition.atoms or c.condition.any_of))
                  and action.name in c.actions]
        if always:
            log.add(record, "name", f"contradictory rules: the action is in the catalogue but always forbidden by {always}")
    for name, goal in rules.goals.items():
        for var, spec in rules.state.items():
            allowed = allowed_values(goal.success.atoms, spec)
            if allowed is not None and not allowed:
                log.add(f"goals.{name}", "success", f"contradictory goal: the success condition on {var!r} can never hold")
    defaults = {name: spec.default for name, spec in rules.state.items()}
    for c in rules.constraints:
        if c.kind == "invariant" and c.gate.in_force(events):
            contradictory = False
            for var, spec in rules.state.items():
                allowed = allowed_values(c.condition.atoms, spec)
                if allowed is not None and not allowed:
                    contradictory = True
                    log.add(f"constraints[{c.index}] ({c.id})", "invariant", f"contradictory invariant on {var!r}")
            if not contradictory and not c.condition.check(defaults, {}):
                log.add(f"constraints[{c.index}] ({c.id})", "invariant", "the state's defaults already break this invariant")
        if c.kind == "line" and c.min_words is not None and c.max_words is not None and c.min_words > c.max_words:
            log.add(f"constraints[{c.index}] ({c.id})", "line", "min_words > max_words")
    log.raise_if_any()


def check_events(events: Iterable[str], world: World, source: str) -> list[str]:
    """The live events of the game state (``source`` names the file or table), each one a world
    event; every unknown one is reported together, with the closest known name."""
    events = list(events)
    problems = [Problem(source, f"events[{i}]", "events",
                        f"unknown world event {e!r}{suggest(e, world.events)}; known: {sorted(world.events)}")
                for i, e in enumerate(events) if e not in world.events]
    if problems:
        raise GameDataError(problems)
    return events


@dataclass
class RuleSet:
    """The rules in force for one species under the live world events."""

    rules: SpeciesRules
    events: frozenset
    actions: dict[str, Action]
    constraints: list[Constraint]
    version: str
    in_force_raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def species(self) -> str:
        return self.rules.species

    @property
    def goals(self) -> dict[str, Goal]:
        return self.rules.goals

    @property
    def state(self) -> dict[str, VarSpec]:
        return self.rules.state

    @classmethod
    def resolve(cls, rules: SpeciesRules, events: Iterable[str]) -> "RuleSet":
        """Apply live world events: drop what they switch off, check, and version the result."""
        active = frozenset(events)
        unknown = sorted(active - set(rules.world.events))
        if unknown:
            raise GameDataError.single("<game state>", "events", "events", f"unknown world event(s) {unknown}")
        find_contradictions(rules, active)
        actions = {}
        for name, a in rules.actions.items():
            if a.gate.in_force(active):
                actions[name] = Action(a.name, a.description, a.params,
                                       [p for p in a.preconditions if p.gate.in_force(active)],
                                       a.effects, a.effect_specs, a.gate, a.index)
        constraints = [c for c in rules.constraints if c.gate.in_force(active)]
        raw = _in_force_raw(rules.raw, active)
        version = content_hash({"world": rules.world.raw, "species": raw})[:16]
        return cls(rules, active, actions, constraints, version, raw)

    def summary(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "rules_version": self.version,
            "events": sorted(self.events),
            "actions": sorted(self.actions),
            "constraints": [c.id for c in self.constraints],
            "goals": sorted(self.goals),
        }


def _gate_of(raw: dict[str, Any]) -> Gate:
    def names(key: str) -> frozenset:
        spec = raw.get(key)
        return frozenset(spec.get("events", [])) if isinstance(spec, dict) else frozenset()
    return Gate(names("active_if"), names("inactive_if"))


def _in_force_raw(raw: dict[str, Any], events: frozenset) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    out["actions"] = [a for a in out.get("actions", []) if _gate_of(a).in_force(events)]
    for a in out["actions"]:
        a["preconditions"] = [p for p in a.get("preconditions", []) if _gate_of(p).in_force(events)]
    out["constraints"] = [c for c in out.get("constraints", []) if _gate_of(c).in_force(events)]
    return out


# ---------------------------------------------------------------------------------------
# Artifact form (plain JSON) of a resolved rule set
# ---------------------------------------------------------------------------------------
def ruleset_to_artifact(rs: RuleSet) -> dict[str, Any]:
    """Everything needed to rebuild exactly these rules in force, as JSON."""
    return {
        "species": rs.species, "rules_version": rs.version, "events": sorted(rs.events),
        "world": rs.rules.world.raw, "world_file": rs.rules.world.file,
        "rules": rs.rules.raw, "rules_file": rs.rules.file, "summary": rs.summary(),
    }


def ruleset_from_artifact(d: dict[str, Any]) -> RuleSet:
    world = parse_world(d["world"], d.get("world_file", "<world>"))
    rules = parse_species_rules(d["rules"], d.get("rules_file", "<rules>"), world, expected_species=d["species"])
    rs = RuleSet.resolve(rules, d["events"])
    if rs.version != d["rules_version"]:
        raise GameDataError.single(d.get("rules_file", "<rules>"), "<artifact>", "rules_version",
                                   f"artifact says {d['rules_version']} but its rules hash to {rs.version}")
    return rs
