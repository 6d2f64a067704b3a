"""User scenario files: encounters a user writes for evaluation (``srl-pipeline eval --scenarios``).

A JSONL file, one scenario per line (blank lines skipped, line numbers kept): the fields of a
scenario record (``id``, ``goal``, ``state``; see :func:`.scenarios.validate_scenario_record`),
optionally ``species`` (must be the species evaluated) and ``expert_steps`` (step lines numbered
1, 2, ... in the step format of :mod:`.steps`). The format is documented in
``configs/game/README.md`` ("User scenario files").

Every line is validated against the species' rules in force; every problem of the file is
reported together, each naming the file, the line and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.validation import unique
from ..core.yaml_files import read_capped
from .errors import GameDataError, Problem
from .schemas import MAX_ENCOUNTER_STEPS, check_encounter_shape
from .rules import RuleSet
from .scenarios import Scenario, validate_scenario_record
from .steps import StepFormatError, parse_step

__all__ = ["read_scenario_file"]

MAX_FILE_BYTES = 4 << 20
MAX_LINES = 10_000
NEWLINE = b"\n"


def read_scenario_file(path: str | Path, ruleset: RuleSet, species: str) -> list[tuple[Scenario, list[str]]]:
    """Every scenario of a JSONL file as (Scenario, expert steps), validated against ``ruleset``.

    Blank lines are skipped. All problems of the file are collected and raised together as one
    :class:`GameDataError` (each names the file, ``line N`` and the field); a file that is not
    there raises :class:`FileNotFoundError`."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{file}: no such scenario file")
    problems: list[Problem] = []
    out: list[tuple[Scenario, list[str]]] = []
    seen: dict[str, int] = {}
    raw = read_capped(path, GameDataError, MAX_FILE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GameDataError.single(file, f"line {raw.count(NEWLINE, 0, e.start) + 1}", "<encoding>",
                                   f"invalid UTF-8 at byte {e.start} ({e.reason})") from None
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise GameDataError.single(file, "<file>", "<size>", f"more than {MAX_LINES} lines")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = f"line {number}"
        try:
            rec = json.loads(line)
            json.dumps(rec, ensure_ascii=False).encode("utf-8")  # lone surrogate escapes (\ud800) are not text
        except json.JSONDecodeError as e:
            problems.append(Problem(file, record, "<json>", f"invalid JSON: {e.msg} at column {e.colno}"))
            continue
        except UnicodeEncodeError:
            problems.append(Problem(file, record, "<encoding>", "a string is not valid UTF-8 (a lone surrogate escape such as \\ud800)"))
            continue
        except (ValueError, RecursionError) as e:  # a number of 10^5 digits, nesting too deep
            reason = ("a number too long to read (more than 4300 digits)" if "integer string conversion" in str(e)
                      else "nested too deeply" if isinstance(e, RecursionError) else " ".join(str(e).split())[:120])
            problems.append(Problem(file, record, "<json>", f"invalid JSON value: {reason}"))
            continue
        line_problems: list[Problem] = []
        scenario = None
        try:
            scenario = validate_scenario_record(rec, ruleset, file, number - 1)
        except GameDataError as e:
            line_problems.extend(e.problems)
        shape: list[Problem] = []
        if isinstance(rec, dict):  # unknown fields (a misspelt expert_steps), bounds; after the specific checks
            try:
                check_encounter_shape(rec, file, number)
            except GameDataError as e:
                shape = e.problems
        steps: list[str] = []
        if isinstance(rec, dict):
            if "species" in rec and rec["species"] != species:
                line_problems.append(Problem(file, record, "species",
                                             f"says {rec['species']!r} but the file is evaluated for {species!r}"))
            raw_steps = rec.get("expert_steps", [])
            if not isinstance(raw_steps, list):
                line_problems.append(Problem(file, record, "expert_steps", "expected a list of step strings"))
            elif len(raw_steps) > MAX_ENCOUNTER_STEPS:  # bounded before any step is looked at
                line_problems.append(Problem(file, record, "expert_steps",
                                             f"{len(raw_steps)} steps; at most {MAX_ENCOUNTER_STEPS}"))
            else:
                for i, s in enumerate(raw_steps):
                    if not isinstance(s, str):
                        line_problems.append(Problem(file, record, f"expert_steps[{i}]",
                                                     f"expected a string, got {type(s).__name__}"))
                        continue
                    try:
                        step = parse_step(s)
                    except StepFormatError as e:
                        line_problems.append(Problem(file, record, f"expert_steps[{i}]", str(e)))
                        continue
                    if step.number != i + 1:
                        line_problems.append(Problem(file, record, f"expert_steps[{i}]",
                                                     f"expected step number {i + 1}, got {step.number}"))
                        continue
                    steps.append(s)
            rid = rec.get("id")
            if isinstance(rid, str):
                if rid in seen:
                    line_problems.append(Problem(file, record, "id", f"duplicate id {rid!r} (first on line {seen[rid]})"))
                else:
                    seen[rid] = number
        line_problems = unique(line_problems + shape)
        if shape:
            scenario = None
        problems.extend(line_problems)
        if not line_problems and scenario is not None:
            out.append((scenario, steps))
    if problems:
        raise GameDataError(problems)
    if not out:
        raise GameDataError.single(file, "<file>", "<content>", "no scenarios (every line is blank)")
    return out
