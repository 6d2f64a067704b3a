"""The local registry: one JSON file per species' tier under the deployment's registry folder.

``<root>/<species>/<tier>.json`` holds every version, rewritten atomically (temp + rename) on each
change, so a crash never leaves half a registry. The default backend: it needs nothing running.
"""

from __future__ import annotations

from pathlib import Path

from ..core.atomic import atomic_write_json, read_json
from .backend import ModelRegistry, now_iso
from .records import Candidate, ModelVersion


class LocalRegistry(ModelRegistry):
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.label = f"local registry {self.root}"

    def _file(self, species: str, tier: str) -> Path:
        return self.root / species / f"{tier}.json"

    def versions(self, species: str, tier: str) -> list[ModelVersion]:
        path = self._file(species, tier)
        if not path.is_file():
            return []
        return [ModelVersion.from_dict(v) for v in read_json(path)["versions"]]

    def _write(self, species: str, tier: str, versions: list[ModelVersion]) -> None:
        atomic_write_json(self._file(species, tier), {"species": species, "tier": tier,
                                                      "versions": [v.to_dict() for v in versions]})

    def _create(self, candidate: Candidate, status: str, note: str) -> ModelVersion:
        versions = self.versions(candidate.species, candidate.tier)
        number = max((v.version for v in versions), default=0) + 1
        new = ModelVersion.from_candidate(candidate, number, status, now_iso(), note)
        self._write(candidate.species, candidate.tier, versions + [new])
        return new

    def _set_status(self, version: ModelVersion, status: str, note: str) -> ModelVersion:
        versions = self.versions(version.species, version.tier)
        out, changed = [], version
        for v in versions:
            if v.version == version.version:
                changed = ModelVersion.from_dict({**v.to_dict(), "status": status, "note": note})
                v = changed
            out.append(v)
        self._write(version.species, version.tier, out)
        return changed

    def groups(self) -> list[tuple[str, str]]:
        if not self.root.is_dir():
            return []
        return sorted((p.parent.name, p.stem) for p in self.root.glob("*/*.json") if p.parent.name != "adapters")
