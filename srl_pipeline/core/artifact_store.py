"""An artifact store addressed by URI: a local folder or ``s3://bucket/prefix`` (through fsspec /
s3fs), with the same atomic publish on both.

A folder is never written in place. It is uploaded under a fresh version key
(``<name>/versions/<uuid>/...``) and published by a small pointer written last
(``<name>/CURRENT.json``: the version and its file list). A single object write is atomic on S3 and
on a local disk (fsspec's local ``pipe`` goes through a temp file), so a reader that follows the
pointer sees the previous folder or the new one, never half an adapter; the previous version's
files stay readable until they are pruned.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

POINTER = "CURRENT.json"
VERSIONS = "versions"


class ArtifactNotFound(FileNotFoundError):
    """Nothing was ever published under this name."""


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass
class ArtifactStore:
    """Folders and files under ``root`` (a local path or an fsspec URI such as ``s3://bucket/prefix``).

    ``storage_options`` go to fsspec (for S3, e.g. ``{"endpoint_url": ...}``; credentials come from
    the usual AWS environment / instance role, never from here)."""

    root: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = str(self.root).rstrip("/")
        self.protocol = self.root.split("://", 1)[0] if "://" in self.root else "file"
        self.fs = fsspec.filesystem(self.protocol, **self.storage_options)

    # -- addressing ------------------------------------------------------------------------------
    def uri(self, *parts: str) -> str:
        """The URI of ``parts`` under the root (``s3://bucket/prefix/a/b`` or ``/root/a/b``)."""
        rel = _join(*parts)
        return f"{self.root}/{rel}" if rel else self.root

    def _path(self, uri: str) -> str:
        return self.fs._strip_protocol(uri)

    # -- files -----------------------------------------------------------------------------------
    def write_bytes(self, data: bytes, *parts: str) -> str:
        """One object (atomic on S3; temp + rename locally); returns its URI."""
        uri = self.uri(*parts)
        if self.protocol == "file":
            from .atomic import atomic_write_bytes

            atomic_write_bytes(Path(self._path(uri)), data)
        else:
            self.fs.pipe_file(self._path(uri), data)
        return uri

    def read_bytes(self, uri: str) -> bytes:
        return self.fs.cat_file(self._path(uri))

    def exists(self, uri: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.exists(self._path(uri))

    def is_file(self, uri: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.isfile(self._path(uri))

    def delete(self, uri: str) -> None:
        self.fs.rm_file(self._path(uri))

    def list_files(self, *parts: str) -> list[str]:
        """The names (relative to the root) of the objects directly under ``parts``."""
        base = self._path(self.uri(*parts)).rstrip("/")
        root = self._path(self.root).rstrip("/")
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(base, detail=True)
        except FileNotFoundError:
            return []
        return sorted(e["name"][len(root) + 1:] for e in entries if e.get("type") == "file")

    # -- folders: upload under a fresh key, publish the pointer last -------------------------------
    def publish_dir(self, local_dir: Path, *name: str, version: str | None = None) -> str:
        """Upload ``local_dir`` as a new version of ``name`` and publish it; returns the version's
        URI (an immutable prefix: a reader holding it never sees another version's files).

        ``version`` (e.g. a content hash) makes the publish idempotent: an already published
        version with that key is not uploaded again."""
        local_dir = Path(local_dir)
        if not local_dir.is_dir():
            raise FileNotFoundError(f"{local_dir}: no such folder to publish as {_join(*name)}")
        version = version or uuid.uuid4().hex
        prefix = self.uri(*name, VERSIONS, version)
        current = self.current(*name, missing_ok=True)
        if current and current["version"] == version:
            return prefix
        files = sorted(str(p.relative_to(local_dir)).replace(os.sep, "/") for p in local_dir.rglob("*") if p.is_file())
        for rel in files:
            target = self._path(f"{prefix}/{rel}")
            if self.protocol == "file":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            self.fs.put_file(str(local_dir / rel), target)
        pointer = {"version": version, "uri": prefix, "files": {rel: (local_dir / rel).stat().st_size for rel in files}}
        self.write_bytes(json.dumps(pointer, indent=1, sort_keys=True).encode("utf-8"), *name, POINTER)
        return prefix

    def current(self, *name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        """The published pointer of ``name`` ({version, uri, files}), or None / ArtifactNotFound."""
        uri = self.uri(*name, POINTER)
        try:
            return json.loads(self.read_bytes(uri))
        except (FileNotFoundError, NotADirectoryError):   # (locally: the name is a published file)
            if missing_ok:
                return None
            raise ArtifactNotFound(f"{uri}: nothing published under {_join(*name)}") from None

    def download_dir(self, prefix_uri: str, local_dir: Path, files: list[str] | None = None) -> Path:
        """Copy the objects under ``prefix_uri`` (a version URI, or any prefix) into ``local_dir``."""
        local_dir = Path(local_dir)
        local_dir.mkdir(parents=True, exist_ok=True)
        base = self._path(prefix_uri).rstrip("/")
        self.fs.invalidate_cache()
        rels = files if files is not None else [p[len(base) + 1:] for p in self.fs.find(base)]
        for rel in rels:
            target = local_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(f"{base}/{rel}", str(target))
        return local_dir

    def fetch_dir(self, local_dir: Path, *name: str) -> Path:
        """The published version of ``name``, copied into ``local_dir`` (exactly its listed files)."""
        pointer = self.current(*name)
        return self.download_dir(pointer["uri"], local_dir, files=sorted(pointer["files"]))
