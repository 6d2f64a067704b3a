"""The step format models read and write, with a strict parser and its printer.

    3. **Show the fangs** intimidate(target=player) | "Leave, mortal, while your blood still runs warm."

A number, a bold short title, one action call from the catalogue (arguments are identifiers),
then ` | ` and the in-character line in double quotes. A plan is such lines numbered 1..N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"(\d+)\. ")
_TITLE = re.compile(r"\*\*([^*\n]+?)\*\* ")
_CALL = re.compile(r"([a-z_][a-z0-9_]*)\(([^()\n]*)\)")
_ARG = re.compile(r"^([a-z_][a-z0-9_]*)=([A-Za-z0-9_]+)$")
_LINE = re.compile(r' \| "([^"\n]*)"$')


class StepFormatError(ValueError):
    """A step that does not follow the format; says which part and where."""

    def __init__(self, text: str, part: str, column: int, message: str, line_no: int | None = None):
        self.text, self.part, self.column, self.line_no = text, part, column, line_no
        where = f"line {line_no}, " if line_no is not None else ""
        super().__init__(f"{where}column {column + 1}, {part}: {message} in {text!r}")


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    action: str
    args: tuple[tuple[str, str], ...]
    line: str

    @property
    def args_dict(self) -> dict[str, str]:
        return dict(self.args)

    def render(self) -> str:
        return format_step(self)


def format_step(step: Step) -> str:
    if '"' in step.line or "\n" in step.line:
        raise StepFormatError(step.line, "line", 0, "a line cannot contain double quotes or newlines")
    if "*" in step.title or "\n" in step.title or not step.title.strip() or step.title != step.title.strip():
        raise StepFormatError(step.title, "title", 0,
                              "a title is non-empty, has no '*' or newline and no leading or trailing spaces")
    args = ", ".join(f"{k}={v}" for k, v in step.args)
    return f'{step.number}. **{step.title}** {step.action}({args}) | "{step.line}"'


def parse_step(text: str, line_no: int | None = None) -> Step:
    """Parse exactly one step; raise StepFormatError naming the broken part."""
    pos = 0
    m = _NUMBER.match(text, pos)
    if not m:
        raise StepFormatError(text, "number", pos, "expected a step number followed by '. '", line_no)
    number = int(m.group(1))
    pos = m.end()
    m = _TITLE.match(text, pos)
    if not m:
        raise StepFormatError(text, "title", pos, "expected a bold title '**Title** '", line_no)
    title = m.group(1)
    if title != title.strip():
        raise StepFormatError(text, "title", pos, "title has leading or trailing spaces", line_no)
    pos = m.end()
    m = _CALL.match(text, pos)
    if not m:
        raise StepFormatError(text, "action", pos, "expected an action call 'name(arg=value, ...)'", line_no)
    action, raw_args = m.group(1), m.group(2)
    args: list[tuple[str, str]] = []
    if raw_args.strip():
        for part in raw_args.split(","):
            am = _ARG.match(part.strip())
            if not am:
                raise StepFormatError(text, "arguments", m.start(2), f"bad argument {part.strip()!r} (expected name=value)", line_no)
            if any(k == am.group(1) for k, _ in args):
                raise StepFormatError(text, "arguments", m.start(2), f"duplicate argument {am.group(1)!r}", line_no)
            args.append((am.group(1), am.group(2)))
    pos = m.end()
    m = _LINE.match(text, pos)
    if not m:
        raise StepFormatError(text, "line", pos, "expected ' | \"in-character line\"' ending the step", line_no)
    return Step(number, title, action, tuple(args), m.group(1))


def format_plan(steps: list[Step]) -> str:
    return "\n".join(format_step(s) for s in steps)


def parse_plan(text: str) -> list[Step]:
    """Parse a plan: one step per line, numbered 1..N, blank lines around it ignored."""
    lines = text.strip().split("\n")
    if not text.strip():
        raise StepFormatError(text, "plan", 0, "empty plan")
    steps = []
    for i, line in enumerate(lines, start=1):
        step = parse_step(line.rstrip("\r"), line_no=i)
        if step.number != i:
            raise StepFormatError(line, "number", 0, f"expected step number {i}, got {step.number}", i)
        steps.append(step)
    return steps
