"""Where every artifact lives: one answer to "where is asset X of species S".

The root is a local folder (the profile's ``artifacts.base_dir``); every path in the project comes
from here. With ``artifacts.store_uri`` (``s3://`` in the aws profile) the folder is the working copy
of that store under the same relative names (``core/artifact_mirror.py``).

    <root>/<asset>/<species>.json                  data assets (JSON), `__all__` when unpartitioned
    <root>/base_models/<tier>/                     built-in base models (Hugging Face folders)
    <root>/<adapter asset>/<species>/              adapters (PEFT) with metrics.json and job_spec.json
    <root>/checkpoints/<asset>/<species>/<job>/    a training job's checkpoints (job = its identity)
    <root>/report/                                 the experiment report (markdown, JSON, plots)
    <root>/eval/<species>-<model>.json             `srl-pipeline eval` results
    <root>/<adapter asset>/.<species>.failed.json  the latest training attempt of that adapter failed (why)
    <root>/registry/                               the local model registry (JSON per species' tier) and
                                                   the registered adapters (immutable copies by version)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUILTIN = "builtin"
UNPARTITIONED = "__all__"


@dataclass(frozen=True)
class ArtifactLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def data(self, *asset_path: str, species: str | None = None) -> Path:
        """The JSON artifact of a data asset (key path ``asset_path``) for one species."""
        *folders, name = asset_path
        return self.root.joinpath(*folders, name, f"{species or UNPARTITIONED}.json")

    def asset_locations(self, *asset_path: str, species: str | None = None) -> tuple[Path, Path]:
        """Where an asset's artifact can be: its folder (an adapter, a base model) or its JSON file."""
        folder = self.root.joinpath(*asset_path, species) if species else self.root.joinpath(*asset_path)
        return folder, self.data(*asset_path, species=species)

    def adapter(self, asset: str, species: str) -> Path:
        return self.root / asset / species

    def failure_marker(self, asset: str, species: str) -> Path:
        """Written when an adapter's training fails (the previous adapter stays); removed on success."""
        return self.root / asset / f".{species}.failed.json"

    def registry_dir(self) -> Path:
        return self.root / "registry"

    def registered_adapter(self, registry_root: Path, species: str, tier: str, adapter_version: str) -> Path:
        """An immutable copy of a registered adapter, addressed by its content version."""
        return Path(registry_root) / "adapters" / species / tier / adapter_version

    def builtin_base_models(self) -> Path:
        return self.root / "base_models"

    def base_model(self, tier: str, source: str = BUILTIN) -> str:
        """What ``load_base_model`` takes for a tier: the built-in folder, or the profile's hub id / path."""
        return str(self.builtin_base_models() / tier) if source == BUILTIN else source

    def checkpoints(self, asset: str, species: str, job_key: str) -> Path:
        return self.root / "checkpoints" / asset / species / job_key

    def report_dir(self) -> Path:
        return self.root / "report"

    def eval_result(self, species: str, model: str) -> Path:
        return self.root / "eval" / f"{species}-{model}.json"
