"""Where every artifact lives: one answer to "where is asset X of species S".

Today the root is a local folder (the profile's ``artifacts.base_dir``); every path in the project
comes from here, so moving the root (another disk, ``s3://`` through an fsspec store) is a change
in one place.

    <root>/<asset>/<species>.json                  data assets (JSON), `__all__` when unpartitioned
    <root>/base_models/<tier>/                     built-in base models (Hugging Face folders)
    <root>/<adapter asset>/<species>/              adapters (PEFT) with metrics.json and job_spec.json
    <root>/checkpoints/<asset>/<species>/<job>/    a training job's checkpoints (job = its identity)
    <root>/report/                                 the experiment report (markdown, JSON, plots)
    <root>/eval/<species>-<model>.json             `srl-pipeline eval` results
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

    def adapter(self, asset: str, species: str) -> Path:
        return self.root / asset / species

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
