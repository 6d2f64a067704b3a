"""The validation layer: pydantic errors become one line each naming file, record and field."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from srl_pipeline.core.errors import InputError
from srl_pipeline.core.validation import Identifier, Strict, indexed, suggest, text, unique, validate
from srl_pipeline.core.errors import Problem


class Item(Strict):
    name: Identifier
    size: Annotated[int, Field(ge=0, le=10)] = 0
    note: text(20) = ""


class Doc(Strict):
    items: list[Item]
    title: str = ""


def _lines(data) -> list[str]:
    with pytest.raises(InputError) as err:
        validate(Doc, data, "d.yaml", locate=indexed("items", data, "name"))
    return str(err.value).splitlines()


def test_every_problem_in_one_pass_with_record_and_field():
    data = {"items": [{"name": "ok", "sise": 3}, {"name": "9bad", "size": 11}, {"name": "x", "size": "3"}], "titel": "t"}
    assert _lines(data) == [
        "d.yaml: record items[0] (ok): field sise: unknown field (did you mean 'size'?)",
        "d.yaml: record items[1] (9bad): field name: '9bad' is not an identifier (^[A-Za-z_][A-Za-z0-9_]{0,63}$)",
        "d.yaml: record items[1] (9bad): field size: Input should be less than or equal to 10",
        "d.yaml: record items[2] (x): field size: expected int, got str",
        "d.yaml: record <file>: field titel: unknown field (did you mean 'title'?)",
    ]


def test_strings_must_be_utf8_and_bounded():
    lines = _lines({"items": [{"name": "a", "note": "\ud800"}, {"name": "b", "note": "x" * 21}]})
    assert "record items[0] (a): field note: text is not valid UTF-8" in lines[0]
    assert "record items[1] (b): field note: String should have at most 20 characters" in lines[1]


def test_messages_never_echo_a_value_of_the_wrong_type():
    lines = _lines({"items": [{"name": "a", "size": "hunter2"}]})
    assert lines == ["d.yaml: record items[0] (a): field size: expected int, got str"]


def test_suggest_and_unique():
    assert suggest("expert_step", ["expert_steps", "goal"]) == " (did you mean 'expert_steps'?)"
    assert suggest("zzz", ["goal"]) == ""
    p = [Problem("f", "r", "x", "one"), Problem("f", "r", "x", "two"), Problem("f", "r", "y", "three")]
    assert [q.message for q in unique(p)] == ["one", "three"]
