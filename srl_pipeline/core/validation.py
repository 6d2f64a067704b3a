"""The one validation layer for what users hand the pipeline: pydantic 2 models, their errors turned
into :class:`~.errors.Problem` lines (file, record, field) with a did-you-mean for unknown keys.

Every schema subclasses :class:`Strict` (strict types, unknown keys refused, text checked for lone
surrogates, i.e. strings that cannot be UTF-8) and is applied with :func:`validate`, which reports
every problem of a file together. Semantic checks (a rule naming an unknown variable, a
contradiction) stay in the domain parsers; they only ever see data that has the right shape.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Callable, Iterable, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import InputError, Problem

M = TypeVar("M", bound=BaseModel)

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
SPECIES_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid UTF-8 (a lone surrogate escape such as \\ud800)") from None
    return value


def text(max_length: int, min_length: int = 0) -> Any:
    """A string type of bounded length that must be encodable as UTF-8."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_utf8)]


def _matching(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            shown = repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
            raise ValueError(f"{shown} is not {what} ({pattern})")
        return value

    return AfterValidator(check)


Identifier = Annotated[str, _matching(IDENTIFIER_PATTERN, "an identifier")]
SpeciesName = Annotated[str, _matching(SPECIES_PATTERN, "a plain identifier")]
ShortText = text(500)
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class Strict(BaseModel):
    """Base of every input schema: strict types, unknown keys refused, no inf/nan, frozen."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False)


def suggest(word: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``Optional[X]`` -> ``X``."""
    while True:
        if getattr(annotation, "__metadata__", None) is not None:  # Annotated
            annotation = annotation.__origin__
            continue
        args = getattr(annotation, "__args__", None)
        if args and type(None) in args and getattr(annotation, "__origin__", None) is not list:
            annotation = next(a for a in args if a is not type(None))
            continue
        return annotation


def _descend(annotation: Any, part: Any) -> Any:
    """The annotation one location step below ``annotation`` (a model field, a list item, a dict value)."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part)
        return field.annotation if field is not None else None
    origin, args = getattr(annotation, "__origin__", None), getattr(annotation, "__args__", ()) or ()
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _known_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the (nested) model that ``loc`` (minus its last item) points into."""
    annotation: Any = model
    for part in loc[:-1]:
        annotation = _descend(annotation, part)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(f.alias or name for name, f in annotation.model_fields.items())
    return []


_TYPE_NAMES = {"list_type": "list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
               "string_type": "str", "int_type": "int", "bool_type": "bool", "float_type": "float",
               "literal_error": None}
_TYPE_NAMES = {k: v for k, v in _TYPE_NAMES.items() if v}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _field_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<record>"


Locate = Callable[[tuple], tuple[str, tuple]]


def at_top(record: str = "<file>") -> Locate:
    """Every error belongs to one record; the location is the field."""
    return lambda loc: (record, loc)


def problems_from(exc: ValidationError, model: type[BaseModel], file: str, locate: Locate | None = None) -> list[Problem]:
    """One Problem per pydantic error; ``locate(loc)`` splits an error's location into the record
    (e.g. ``passages[3] (fangs)``) and the field path inside it."""
    locate = locate or at_top()
    out: list[Problem] = []
    for err in exc.errors(include_input=True, include_url=False):
        loc = tuple(err["loc"])
        record, field_loc = locate(loc)
        field = _field_path(field_loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            message = "unknown field" + suggest(str(loc[-1]), _known_fields(model, loc))
        elif kind == "missing":
            message = "missing required field"
        elif kind in _TYPE_NAMES:  # the input's type only: an input value may be a secret
            message = f"expected {_TYPE_NAMES[kind]}, got {_type_name(err.get('input'))}"
        elif kind == "string_unicode":
            message = "text is not valid UTF-8 (a lone surrogate escape such as \\ud800)"
        elif kind == "literal_error":
            message = f"{err['msg'].replace('Input should be', 'expected')}, got {_short(err.get('input'))}"
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
        out.append(Problem(file, record, field, message))
    return out


def shape_problems(model: type[BaseModel], data: Any, file: str, locate: Locate | None = None) -> list[Problem]:
    """The schema's problems with ``data`` (empty when it fits), for parsers that add their own."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return problems_from(exc, model, file, locate)
    except RecursionError:
        return [Problem(file, "<file>", "<content>", "nested too deeply")]
    return []


def merged(first: list[Problem], then: list[Problem]) -> list[Problem]:
    """``first`` and those of ``then`` about another (record, field): one line per problem."""
    seen = {(p.record, p.field) for p in first}
    return list(first) + [p for p in then if (p.record, p.field) not in seen]


def unique(problems: list[Problem]) -> list[Problem]:
    """The first problem of each (record, field): two checks of one field make one line."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.record, p.field) not in seen:
            seen.add((p.record, p.field))
            out.append(p)
    return out


def validate(model: type[M], data: Any, file: str, error: type[InputError] = InputError,
             locate: Locate | None = None) -> M:
    """``model`` built from ``data``; every problem raised together as one ``error``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(problems_from(exc, model, file, locate)) from None
    except RecursionError:
        raise error.single(file, "<file>", "<content>", "nested too deeply") from None


def indexed(collection: str, data: Any, name_key: str, depth: int = 2) -> Locate:
    """A locator for ``collection[i]`` records named by their ``name_key`` (``actions[3] (move)``),
    or ``collection.key`` records of a mapping; other locations belong to ``<file>``."""

    def locate(loc: tuple) -> tuple[str, tuple]:
        if len(loc) >= depth and loc[0] == collection:
            key = loc[1]
            if isinstance(key, int):
                items = data.get(collection) if isinstance(data, dict) else None
                item = items[key] if isinstance(items, list) and key < len(items) else None
                name = item.get(name_key) if isinstance(item, dict) else None
                record = f"{collection}[{key}]" + (f" ({name})" if isinstance(name, str) and len(name) <= 80 else "")
            else:
                record = f"{collection}.{key}"
            return record, loc[2:] or ("<record>",)
        return "<file>", loc

    return locate


def chain(*locators: Locate, default: str = "<file>") -> Locate:
    """The first locator that claims a location (returns a record other than ``default``)."""

    def locate(loc: tuple) -> tuple[str, tuple]:
        for one in locators:
            record, rest = one(loc)
            if record != default:
                return record, rest
        return default, loc

    return locate
