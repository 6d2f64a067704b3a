"""Strict reading of YAML data files: bytes -> UTF-8 -> mapping, with errors that name the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from .errors import GameDataError


def decode_yaml(raw: bytes, file: str) -> dict[str, Any]:
    """Parse a YAML mapping from raw bytes; empty files, bad UTF-8 and non-mappings are errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GameDataError.single(
            file, f"byte {exc.start}", "<encoding>", f"invalid UTF-8 ({exc.reason})"
        ) from None
    if not text.strip():
        raise GameDataError.single(file, "<file>", "<content>", "file is empty")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<file>"
        raise GameDataError.single(file, where, "<syntax>", f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise GameDataError.single(
            file, "<file>", "<content>", f"expected a mapping at top level, got {type(data).__name__}"
        )
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GameDataError.single(str(path), "<file>", "<content>", f"cannot read: {exc}") from None
    return decode_yaml(raw, str(path))


def content_hash(obj: Any) -> str:
    """Stable sha256 of a JSON-able object (canonical JSON: sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")
