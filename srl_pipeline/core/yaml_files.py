"""The one YAML loader: bytes -> UTF-8 -> a mapping, with errors that name the file (and line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import InputError


def decode_yaml(raw: bytes, file: str, error: type[InputError] = InputError) -> dict[str, Any]:
    """Parse a YAML mapping from raw bytes; empty files, bad UTF-8 and non-mappings are errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error.single(file, f"byte {exc.start}", "<encoding>", f"invalid UTF-8 ({exc.reason})") from None
    if not text.strip():
        raise error.single(file, "<file>", "<content>", "file is empty")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<file>"
        raise error.single(file, where, "<syntax>", f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error.single(file, "<file>", "<content>", f"expected a mapping at top level, got {type(data).__name__}")
    return data


def read_yaml(path: Path, error: type[InputError] = InputError) -> dict[str, Any]:
    """Read and parse one YAML mapping file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error.single(str(path), "<file>", "<content>", f"cannot read: {exc.strerror or exc}") from None
    return decode_yaml(raw, str(path), error)
