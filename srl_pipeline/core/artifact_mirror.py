"""The local artifact folder as the working copy of an artifact store (``s3://`` in the AWS profile).

Every asset reads and writes its artifacts where the layout says, under the local root; with a
store configured, what an asset wrote is published to the store under the same relative name
(a folder as a new version plus its pointer, written last; a JSON artifact as one object), and
what an asset reads is first brought from the store. So a run on a fresh machine (an ECS task, a
new laptop) continues from the deployment's artifacts, and a reader never sees half an adapter.
Without a store every call is a no-op: the local default is unchanged.

Which version a local folder holds is kept beside the artifacts (``<root>/.store/<name>.version``),
so a folder already current is not downloaded again.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .artifact_store import ArtifactStore
from .atomic import atomic_dir, atomic_write_bytes
from .hashing import folder_hash

MARKERS = ".store"


@dataclass
class ArtifactMirror:
    root: Path
    store: ArtifactStore | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    @classmethod
    def configured(cls, root: Path | str, store_uri: str = "", endpoint_url: str = "") -> "ArtifactMirror":
        """The mirror of a profile's ``artifacts`` section (no store when ``store_uri`` is empty)."""
        if not store_uri:
            return cls(Path(root))
        options = {"endpoint_url": endpoint_url} if endpoint_url else {}
        return cls(Path(root), ArtifactStore(store_uri, storage_options=options))

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def name(self, path: Path | str) -> str:
        """The store name of a local artifact path (its path under the root)."""
        path = Path(path).absolute()
        try:
            return path.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            raise ValueError(f"{path} is not under the artifact root {self.root}") from None

    def uri(self, path: Path | str) -> str | None:
        return self.store.uri(self.name(path)) if self.store else None

    def under_root(self, path: Path | str) -> bool:
        try:
            self.name(path)
        except ValueError:
            return False
        return True

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """One fetch of a name at a time on this machine (parallel steps share its disk)."""
        lock = self.root / MARKERS / f"{self.name(path)}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def forget_version(self, path: Path | str) -> None:
        """The local folder is about to change: the next fetch must not trust its old version."""
        if self.store is not None:
            self._marker(Path(path)).unlink(missing_ok=True)

    def _marker(self, path: Path) -> Path:
        return self.root / MARKERS / f"{self.name(path)}.version"

    def _local_version(self, path: Path) -> str | None:
        marker = self._marker(path)
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() and Path(path).is_dir() else None

    # -- writer side ---------------------------------------------------------------------------------
    def publish(self, path: Path | str) -> str | None:
        """Publish the file or folder at ``path`` (under the root); returns its URI in the store, or
        None without a store or when nothing is there."""
        path = Path(path)
        if self.store is None:
            return None
        name = self.name(path)
        if path.is_file():
            return self.store.write_bytes(path.read_bytes(), name)
        if path.is_dir():
            version = folder_hash(path)[:16]
            uri = self.store.publish_dir(path, name, version=version)
            atomic_write_bytes(self._marker(path), version.encode("utf-8"))
            return uri
        return None

    def remove(self, path: Path | str) -> None:
        """Remove a published file (a failure marker that no longer holds)."""
        if self.store is None:
            return
        uri = self.store.uri(self.name(path))
        if self.store.is_file(uri):
            self.store.delete(uri)

    # -- reader side ---------------------------------------------------------------------------------
    def fetch(self, path: Path | str) -> bool:
        """Lay the store's published copy of ``path`` (a folder's current version, or a file) at
        ``path``, atomically; a copy already current is kept, and what the store does not hold is
        left as it is (the reader reports it missing as it would locally). True when the store
        holds it."""
        path = Path(path)
        if self.store is None:
            return False
        name = self.name(path)
        with self._locked(path):
            pointer = self.store.current(name, missing_ok=True)
            if pointer is not None:
                if self._local_version(path) != pointer["version"]:
                    with atomic_dir(path) as tmp:
                        self.store.download_dir(pointer["uri"], tmp, files=sorted(pointer["files"]))
                    atomic_write_bytes(self._marker(path), str(pointer["version"]).encode("utf-8"))
                return True
            uri = self.store.uri(name)
            if not self.store.is_file(uri):
                return False
            data = self.store.read_bytes(uri)
            if not path.is_file() or path.read_bytes() != data:
                atomic_write_bytes(path, data)
            return True

    def fetch_or_forget(self, path: Path | str) -> bool:
        """``fetch`` a file whose absence means something (a failure marker): a local copy the store
        no longer holds is removed. True when the store holds it."""
        if self.store is None:
            return Path(path).is_file()
        if self.fetch(path):
            return True
        Path(path).unlink(missing_ok=True)
        return False

    def fetch_if_under_root(self, path: Path | str) -> bool:
        """``fetch`` for a path that may live elsewhere (a registered adapter named by its record)."""
        return self.under_root(path) and self.fetch(path)

    def publish_if_under_root(self, path: Path | str) -> str | None:
        """``publish`` for a path that may live elsewhere (a registry folder outside the artifacts)."""
        return self.publish(path) if self.under_root(path) else None

    def fetch_any(self, *paths: Path) -> Path | None:
        """The first of ``paths`` the store holds, fetched (None when it holds none)."""
        return next((Path(p) for p in paths if self.fetch(p)), None)

    def fetch_files(self, folder: Path | str, suffix: str = ".json") -> list[Path]:
        """Every published file directly under ``folder`` whose name ends with ``suffix`` (the
        report reads every species' evaluation), fetched."""
        if self.store is None:
            return []
        paths = [self.root / n for n in self.store.list_files(self.name(folder)) if n.endswith(suffix)]
        return [p for p in paths if self.fetch(p)]
