"""The shape of every game file a user writes (lore, world, rules, game state, encounter lines), as
pydantic schemas on the project's validation layer (:mod:`srl_pipeline.core.validation`).

The schema is the first gate: strict types, unknown keys refused with a did-you-mean, and bounds on
every size and range, so that everything after it (the rules parser, the contradiction check, the
simulator, the solver) only sees data of the right shape and a bounded size. Conditions and effects
stay ``Any`` here: the rules' condition parser checks them against the state variables.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, StringConstraints, field_validator, model_validator

from ..core.errors import Problem
from ..core.validation import Identifier, SpeciesName, Strict, chain, indexed, merged, shape_problems, text
from .errors import GameDataError

# Bounds: generous for a hand-written game, small enough that every check stays cheap.
MAX_STATE_VARS = 64
MAX_VALUES = 64            # enum / set values, action parameter values
MAX_INT_RANGE = 1_000      # max - min of an int variable (the contradiction check and the warm-up enumerate it)
MAX_INT_ABS = 1_000_000
MAX_ACTIONS = 200
MAX_CALLS_PER_ACTION = 256  # product of an action's parameter value counts (the simulator enumerates it)
MAX_PRECONDITIONS = 32
MAX_EFFECTS = 32
MAX_CONSTRAINTS = 200
MAX_GOALS = 32
MAX_EVENTS = 64
MAX_REACTIONS = 64
MAX_PASSAGES = 500
MAX_PASSAGE_CHARS = 2_000  # the lore_schema check's bound: refused before the artifact is written
MIN_PASSAGE_CHARS = 10
MAX_TITLE_CHARS = 200
MAX_ENCOUNTER_STEPS = 32
MAX_DESCRIPTION = 500

BoundedInt = Annotated[int, Field(ge=-MAX_INT_ABS, le=MAX_INT_ABS)]
Description = text(MAX_DESCRIPTION)
Name = Annotated[str, StringConstraints(max_length=64)]
PASSAGE_ID = r"^[a-z0-9][a-z0-9_\-]{0,79}$"
PassageId = Annotated[str, StringConstraints(pattern=PASSAGE_ID)]
LORE_KINDS = ("trait", "ability", "weakness", "taboo", "voice", "example_line", "history")


# -- lore -----------------------------------------------------------------------------------------
class PassageSchema(Strict):
    id: PassageId
    kind: Literal[LORE_KINDS]
    title: text(MAX_TITLE_CHARS)
    text: text(MAX_PASSAGE_CHARS)
    actions: Annotated[list[Identifier], Field(max_length=32)] = []

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if len(value.strip()) < MIN_PASSAGE_CHARS:
            raise ValueError(f"must have at least {MIN_PASSAGE_CHARS} characters")
        return value


class LoreSchema(Strict):
    species: SpeciesName
    passages: Annotated[list[PassageSchema], Field(max_length=MAX_PASSAGES)]


# -- world and rules ------------------------------------------------------------------------------
class VarSpecSchema(Strict):
    type: Literal["bool", "int", "enum", "set"]
    values: Optional[Annotated[list[Any], Field(max_length=MAX_VALUES)]] = None
    min: Optional[BoundedInt] = None
    max: Optional[BoundedInt] = None
    default: Any = None

    @model_validator(mode="after")
    def _bounded(self) -> "VarSpecSchema":
        if self.type == "int" and self.min is not None and self.max is not None and self.max - self.min > MAX_INT_RANGE:
            raise ValueError(f"an int variable spans at most {MAX_INT_RANGE} values (max - min), got {self.max - self.min}")
        return self


StateSchema = Annotated[dict[Name, VarSpecSchema], Field(max_length=MAX_STATE_VARS)]


class GateSchema(Strict):
    events: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_EVENTS)]


class ReactionSchema(Strict):
    id: Name
    description: Description = ""
    when: Any = None
    effects: Annotated[list[Any], Field(max_length=MAX_EFFECTS)]


class WorldSchema(Strict):
    state: StateSchema
    events: Annotated[dict[Identifier, Description], Field(max_length=MAX_EVENTS)]
    player_profiles: Any
    reactions: Optional[Annotated[list[ReactionSchema], Field(max_length=MAX_REACTIONS)]]
    goal_types: Annotated[list[Any], Field(max_length=MAX_GOALS)]


class PreconditionSchema(Strict):
    id: Optional[Name] = None
    when: Any = None
    active_if: Optional[GateSchema] = None
    inactive_if: Optional[GateSchema] = None


class ActionSchema(Strict):
    name: Name
    description: Description = ""
    params: Annotated[dict[Identifier, Annotated[list[Any], Field(max_length=MAX_VALUES)]], Field(max_length=8)] = {}
    preconditions: Annotated[list[PreconditionSchema], Field(max_length=MAX_PRECONDITIONS)] = []
    effects: Annotated[list[Any], Field(max_length=MAX_EFFECTS)]
    active_if: Optional[GateSchema] = None
    inactive_if: Optional[GateSchema] = None

    @field_validator("params")
    @classmethod
    def _bounded_calls(cls, params: dict) -> dict:
        calls = math.prod(max(1, len(v)) for v in params.values())
        if calls > MAX_CALLS_PER_ACTION:
            raise ValueError(f"the parameters allow {calls} calls; at most {MAX_CALLS_PER_ACTION} per action")
        return params


class ConstraintSchema(Strict):
    id: Optional[Name] = None
    description: Description = ""
    forbid: Any = None
    when: Any = None
    require: Any = None
    for_: Any = Field(default=None, alias="for")
    invariant: Any = None
    line: Any = None
    active_if: Optional[GateSchema] = None
    inactive_if: Optional[GateSchema] = None


class GoalSchema(Strict):
    description: Description = ""
    success: Any = None
    fail: Any = None


class RulesSchema(Strict):
    species: Any = None
    lair: Any = None
    state: Optional[StateSchema] = None
    actions: Annotated[list[ActionSchema], Field(max_length=MAX_ACTIONS)]
    constraints: Annotated[list[ConstraintSchema], Field(max_length=MAX_CONSTRAINTS)]
    goals: Annotated[dict[Name, GoalSchema], Field(max_length=MAX_GOALS)]


# -- game state and encounter files --------------------------------------------------------------
class GameStateSchema(Strict):
    events: Annotated[list[Identifier], Field(max_length=MAX_EVENTS)] = []


class EncounterSchema(Strict):
    """One line of a user scenario file (``srl-pipeline eval --scenarios``)."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,80}$")]
    goal: Name
    state: Annotated[dict[Name, Any], Field(max_length=MAX_STATE_VARS)]
    species: Optional[Name] = None
    split: Optional[Literal["train", "validation", "test"]] = None
    optimal_steps: Optional[Annotated[int, Field(ge=0, le=MAX_ENCOUNTER_STEPS)]] = None
    expert_steps: Annotated[list[text(2_000)], Field(max_length=MAX_ENCOUNTER_STEPS)] = []


# -- applying them --------------------------------------------------------------------------------
def _validate(model: type[Strict], raw: Any, file: str, locate: Any) -> Any:
    from ..core.validation import validate

    return validate(model, raw, file, GameDataError, locate)


def check_lore_shape(raw: Any, file: str) -> LoreSchema:
    return _validate(LoreSchema, raw, file, indexed("passages", raw, "id"))


def world_shape_problems(raw: Any, file: str) -> list[Problem]:
    return shape_problems(WorldSchema, raw, file, lambda loc: ("<world>", loc))


def rules_shape_problems(raw: Any, file: str) -> list[Problem]:
    return shape_problems(RulesSchema, raw, file, chain(indexed("actions", raw, "name"), indexed("constraints", raw, "id"),
                                                        indexed("goals", raw, "")))


def parse_with_shape(shape: list[Problem], parse: Any) -> Any:
    """Run the semantic ``parse()`` and report its problems together with the schema's ``shape``
    problems. With shape problems, a parser tripping over the malformed data adds nothing (the shape
    problems already name it); without, it is a bug and propagates."""
    try:
        result = parse()
    except GameDataError as exc:
        raise GameDataError(merged(shape, exc.problems)) from None
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        if not shape:
            raise
        raise GameDataError(shape) from None
    if shape:
        raise GameDataError(shape)
    return result


def check_game_state_shape(raw: Any, file: str) -> GameStateSchema:
    return _validate(GameStateSchema, raw, file, lambda loc: ("<file>", loc))


def check_encounter_shape(raw: Any, file: str, line: int) -> EncounterSchema:
    return _validate(EncounterSchema, raw, file, lambda loc: (f"line {line}", loc))
