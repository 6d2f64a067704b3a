"""Bad game data: the project's input error (core/errors.py), named for the game's files."""

from __future__ import annotations

from ..core.errors import InputError, Problem
from ..core.errors import ProblemLog as _ProblemLog

__all__ = ["GameDataError", "Problem", "ProblemLog"]


class GameDataError(InputError):
    """Raised when lore, rules, game state or scenarios are malformed; carries every problem found
    in one file so a designer fixes them in one pass."""


class ProblemLog(_ProblemLog):
    """Collects the problems of one game-data file; ``raise_if_any`` raises :class:`GameDataError`."""

    def __init__(self, file: str):
        super().__init__(file, GameDataError)
