"""Reading the game's YAML files: the project's one YAML loader, raising :class:`GameDataError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import yaml_files
from .errors import GameDataError


def decode_yaml(raw: bytes, file: str) -> dict[str, Any]:
    """Parse a YAML mapping from raw bytes; empty files, bad UTF-8 and non-mappings are errors."""
    return yaml_files.decode_yaml(raw, file, GameDataError)


def read_yaml(path: Path, root: Path | None = None) -> dict[str, Any]:
    """Read one game file; with ``root``, the file must resolve inside it (no symlink escape)."""
    return yaml_files.read_yaml(path, GameDataError, root)
