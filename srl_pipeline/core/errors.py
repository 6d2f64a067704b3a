"""One error shape for every bad input a user hands the pipeline: each problem names the file, the
record and the field, and all problems of one file are reported together."""

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


class InputError(ValueError):
    """Bad input (data, configuration, a user's file). Carries every problem found so the owner
    fixes them in one pass; ``str()`` is one line per problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, record: str, field: str, message: str) -> "InputError":
        return cls([Problem(file, record, field, message)])


class ConfigError(InputError):
    """A profile or hyperparameter file that is malformed, or names an unknown profile or key."""


class ProblemLog:
    """Collects problems while parsing one file; ``raise_if_any`` ends the parse."""

    def __init__(self, file: str, error: type[InputError] = InputError):
        self.file = file
        self.error = error
        self.problems: list[Problem] = []

    def add(self, record: str, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, record, field, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise self.error(self.problems)
