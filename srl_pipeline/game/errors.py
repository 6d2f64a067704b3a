"""One error type for bad game data, naming the file, the record and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: record {self.record}: field {self.field}: {self.message}"


class GameDataError(ValueError):
    """Raised when lore, rules, game state or scenarios are malformed.

    Carries every problem found in one file so a designer fixes them in one pass.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, record: str, field: str, message: str) -> "GameDataError":
        return cls([Problem(file, record, field, message)])


class ProblemLog:
    """Collects problems while parsing one file; `raise_if_any` ends the parse."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, record: str, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, record, field, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise GameDataError(self.problems)
