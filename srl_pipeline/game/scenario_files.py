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

from .errors import GameDataError, Problem
from .rules import RuleSet
from .scenarios import Scenario, validate_scenario_record
from .steps import StepFormatError, parse_step

__all__ = ["read_scenario_file"]


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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise GameDataError.single(file, "<file>", "<content>", f"not UTF-8 text ({e.reason})") from e
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = f"line {number}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(file, record, "<json>", f"invalid JSON: {e.msg} at column {e.colno}"))
            continue
        line_problems: list[Problem] = []
        scenario = None
        try:
            scenario = validate_scenario_record(rec, ruleset, file, number - 1)
        except GameDataError as e:
            line_problems.extend(e.problems)
        steps: list[str] = []
        if isinstance(rec, dict):
            if "species" in rec and rec["species"] != species:
                line_problems.append(Problem(file, record, "species",
                                             f"says {rec['species']!r} but the file is evaluated for {species!r}"))
            raw_steps = rec.get("expert_steps", [])
            if not isinstance(raw_steps, list):
                line_problems.append(Problem(file, record, "expert_steps", "expected a list of step strings"))
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
        problems.extend(line_problems)
        if not line_problems and scenario is not None:
            out.append((scenario, steps))
    if problems:
        raise GameDataError(problems)
    if not out:
        raise GameDataError.single(file, "<file>", "<content>", "no scenarios (every line is blank)")
    return out
