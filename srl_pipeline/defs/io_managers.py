"""The IO manager of the JSON data artifacts (atomic writes, paths from the artifact layout)."""

from pathlib import Path
from typing import Any

import dagster as dg

from ..core.atomic import atomic_write_json, read_json
from ..core.layout import ArtifactLayout
from ..game.names import validate_species_name


class JsonArtifactIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as one JSON artifact, written atomically (temp + rename).

    Path: <base_dir>/<asset key path>/<species>.json. A run that fails before returning leaves the
    previous artifact untouched.
    """

    base_dir: str

    def _path(self, context: Any) -> Path:
        species = validate_species_name(context.asset_partition_key, "<partition key>") \
            if context.has_asset_partitions else None
        return ArtifactLayout(Path(self.base_dir)).data(*context.asset_key.path, species=species)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(context)
        atomic_write_json(path, obj)
        context.add_output_metadata({"artifact": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        path = self._path(context)
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} has not been materialised yet")
        return read_json(path)
