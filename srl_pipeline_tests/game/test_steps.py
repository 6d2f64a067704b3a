"""The step format: parse/format round trips and errors that name the broken part."""

from __future__ import annotations

import random
import string

import pytest

from srl_pipeline.game.steps import Step, StepFormatError, format_plan, format_step, parse_plan, parse_step

DESIGN_EXAMPLE = '3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."'


@pytest.mark.parametrize("text,expected", [
    (DESIGN_EXAMPLE,
     Step(3, "Show the fangs", "intimidate", (("target", "player"),), "Leave, mortal, while your blood still runs warm.")),
    ('1. **Rest** rest() | "I sleep."', Step(1, "Rest", "rest", (), "I sleep.")),
    ('12. **A deal | of sorts** offer_bargain(price=gold, term=Year_1) | ""',
     Step(12, "A deal | of sorts", "offer_bargain", (("price", "gold"), ("term", "Year_1")), "")),
    ('2. **Élan (vital)** _go(to=crypt) | "Ça va, (friend) | yes?"',
     Step(2, "Élan (vital)", "_go", (("to", "crypt"),), "Ça va, (friend) | yes?")),
])
def test_hand_examples(text, expected):
    step = parse_step(text)
    assert step == expected
    assert format_step(step) == text == step.render()
    assert step.args_dict == dict(expected.args)


def test_spacing_inside_arguments_is_tolerated_and_normalised():
    step = parse_step('1. **T** move( to = crypt ,x=y ) | "a b"'.replace(" = ", "="))
    assert step.args == (("to", "crypt"), ("x", "y"))
    assert format_step(step) == '1. **T** move(to=crypt, x=y) | "a b"'


def _random_step(rng: random.Random, number: int) -> Step:
    title_chars = string.ascii_letters + string.digits + " ,.!?'-()|:;éßü"
    line_chars = title_chars + "*_[]{}<>#@&%$=/\\"
    ident_first = string.ascii_lowercase + "_"
    ident_rest = string.ascii_lowercase + string.digits + "_"

    def ident() -> str:
        return rng.choice(ident_first) + "".join(rng.choice(ident_rest) for _ in range(rng.randint(0, 10)))

    title = ""
    while not title.strip() or title != title.strip():
        title = "".join(rng.choice(title_chars) for _ in range(rng.randint(1, 30)))
    names: list[str] = []
    for _ in range(rng.randint(0, 3)):
        n = ident()
        if n not in names:
            names.append(n)
    values = string.ascii_letters + string.digits + "_"
    args = tuple((n, "".join(rng.choice(values) for _ in range(rng.randint(1, 8)))) for n in names)
    line = "".join(rng.choice(line_chars) for _ in range(rng.randint(0, 60)))
    return Step(number, title, ident(), args, line)


def test_randomized_round_trip():
    rng = random.Random(20240611)
    for _ in range(1500):
        step = _random_step(rng, rng.randint(1, 999))
        text = format_step(step)
        assert "\n" not in text
        assert parse_step(text) == step, text
        assert format_step(parse_step(text)) == text


def test_randomized_plan_round_trip():
    rng = random.Random(99)
    for _ in range(150):
        steps = [_random_step(rng, i) for i in range(1, rng.randint(1, 8) + 1)]
        text = format_plan(steps)
        assert parse_plan(text) == steps
        assert parse_plan("\n\n" + text.replace("\n", "\r\n") + "\n  \n") == steps  # CRLF and blank lines around


GOOD = '1. **Loom** intimidate(target=player) | "Leave now."'


@pytest.mark.parametrize("text,part", [
    ('**Loom** intimidate(target=player) | "Leave now."', "number"),
    ('1 **Loom** intimidate(target=player) | "Leave now."', "number"),
    ('one. **Loom** intimidate(target=player) | "Leave now."', "number"),
    ('1.**Loom** intimidate(target=player) | "Leave now."', "number"),
    (' 1. **Loom** intimidate(target=player) | "Leave now."', "number"),
    ('1. Loom intimidate(target=player) | "Leave now."', "title"),
    ('1. **Loom intimidate(target=player) | "Leave now."', "title"),
    ('1. **** intimidate(target=player) | "Leave now."', "title"),
    ('1. ** Loom** intimidate(target=player) | "Leave now."', "title"),
    ('1. **Loom **intimidate(target=player) | "Leave now."', "title"),
    ('1. *Loom* intimidate(target=player) | "Leave now."', "title"),
    ('1. **Loom** Intimidate(target=player) | "Leave now."', "action"),
    ('1. **Loom** intimidate | "Leave now."', "action"),
    ('1. **Loom** intimidate target=player | "Leave now."', "action"),
    ('1. **Loom** intimidate(target=player | "Leave now."', "action"),
    ('1. **Loom** 2fast(target=player) | "Leave now."', "action"),
    ('1. **Loom** intimidate (target=player) | "Leave now."', "action"),
    ('1. **Loom** intimidate(target) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(=player) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=the player) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=player,) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=player, target=player) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(Target=player) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=pl-ayer) | "Leave now."', "arguments"),
    ('1. **Loom** intimidate(target=player)', "line"),
    ('1. **Loom** intimidate(target=player) |', "line"),
    ('1. **Loom** intimidate(target=player) | Leave now.', "line"),
    ('1. **Loom** intimidate(target=player) | "Leave now.', "line"),
    ('1. **Loom** intimidate(target=player) "Leave now."', "line"),
    ('1. **Loom** intimidate(target=player) | "Leave now." extra', "line"),
    ('1. **Loom** intimidate(target=player) | "Say "no"."', "line"),
    ('1. **Loom** intimidate(target=player) || "Leave now."', "line"),
])
def test_broken_part_is_named(text, part):
    parse_step(GOOD)  # the unbroken step parses
    with pytest.raises(StepFormatError) as err:
        parse_step(text)
    assert err.value.part == part
    assert f", {part}: " in str(err.value)
    assert err.value.text == text
    assert err.value.line_no is None and "line " not in str(err.value).split(",")[0]


def test_error_column_points_at_the_part():
    with pytest.raises(StepFormatError) as err:
        parse_step('1. **Loom** Intimidate(target=player) | "x y"')
    assert err.value.column == len("1. **Loom** ")
    assert str(err.value).startswith(f"column {len('1. **Loom** ') + 1}, action:")


def test_plan_numbering():
    two = GOOD + "\n" + GOOD.replace("1.", "2.", 1)
    assert [s.number for s in parse_plan(two)] == [1, 2]
    for bad, line_no, got in [
        (GOOD + "\n" + GOOD.replace("1.", "3.", 1), 2, 3),
        (GOOD + "\n" + GOOD, 2, 1),
        (GOOD.replace("1.", "0.", 1), 1, 0),
        (GOOD.replace("1.", "2.", 1) + "\n" + GOOD, 1, 2),
    ]:
        with pytest.raises(StepFormatError) as err:
            parse_plan(bad)
        assert err.value.part == "number" and err.value.line_no == line_no
        assert f"line {line_no}, " in str(err.value) and f"got {got}" in str(err.value)


def test_plan_error_names_line_and_part():
    text = GOOD + '\n2. **Go** move(to=crypt) "no bar"\n3. **X** rest() | "a b"'
    with pytest.raises(StepFormatError) as err:
        parse_plan(text)
    assert (err.value.part, err.value.line_no) == ("line", 2)
    assert str(err.value).startswith("line 2, ")
    with pytest.raises(StepFormatError) as err:
        parse_plan(GOOD + "\n\n" + GOOD.replace("1.", "2.", 1))  # a blank line inside the plan
    assert (err.value.part, err.value.line_no) == ("number", 2)


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \r\n \n"])
def test_empty_plan(text):
    with pytest.raises(StepFormatError) as err:
        parse_plan(text)
    assert err.value.part == "plan" and "empty plan" in str(err.value)


@pytest.mark.parametrize("step,part", [
    (Step(1, "Loom", "intimidate", (), 'Say "no"'), "line"),
    (Step(1, "Loom", "intimidate", (), "two\nlines"), "line"),
    (Step(1, "Lo*om", "intimidate", (), "x"), "title"),
    (Step(1, "", "intimidate", (), "x"), "title"),
    (Step(1, "   ", "intimidate", (), "x"), "title"),
    (Step(1, "Lo\nom", "intimidate", (), "x"), "title"),
    (Step(1, " Loom", "intimidate", (), "x"), "title"),
    (Step(1, "Loom ", "intimidate", (), "x"), "title"),
])
def test_format_refuses_what_parse_would_refuse(step, part):
    with pytest.raises(StepFormatError) as err:
        format_step(step)
    assert err.value.part == part
