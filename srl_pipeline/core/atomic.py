"""Atomic writes of files and folders: a reader sees the previous artifact or the new one, never a
half-written one, and a failed write leaves the previous one in place.

Files: temp file beside the target, fsync, rename. Folders: filled under a hidden staging name
beside the target, then swapped in (the previous folder is renamed away first and removed last).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def staged_dir(final: Path) -> Path:
    """A fresh, empty staging folder beside ``final`` (same filesystem, so the swap is a rename)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))


def promote_dir(staged: Path, final: Path) -> None:
    """Swap a finished staging folder in as ``final``; the previous folder is removed only once the
    new one is in place."""
    staged, final = Path(staged), Path(final)
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def discard_dir(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """``with atomic_dir(final) as tmp:`` fill ``tmp``; on success it replaces ``final``, on any
    error it is discarded and ``final`` is untouched."""
    tmp = staged_dir(final)
    try:
        yield tmp
        promote_dir(tmp, final)
    except BaseException:
        discard_dir(tmp)
        raise


def write_dir_atomically(final: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp_dir)`` then swap it in as ``final`` (see :func:`atomic_dir`)."""
    with atomic_dir(final) as tmp:
        write(tmp)


def stale_staging(parent: Path, name: str) -> list[Path]:
    """Staging and swap leftovers of ``name`` under ``parent`` (a killed run leaves them behind)."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    prefixes = (f".{name}.tmp-", f".{name}.old-")
    return [p for p in parent.iterdir() if p.name.startswith(prefixes)]
