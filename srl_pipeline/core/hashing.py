"""Content hashes: the data versions of assets and the identities of training jobs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def content_hash(obj: Any) -> str:
    """Stable sha256 of a JSON-able object (canonical JSON: sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks (model weights can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 over a folder's files (relative path -> file sha256): a published folder's version."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return content_hash({p.relative_to(folder).as_posix(): file_sha256(p) for p in files})


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")
