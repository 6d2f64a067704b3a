"""The IO manager of the JSON data artifacts (atomic writes, paths from the artifact layout,
published to the artifact store when one is configured)."""

from pathlib import Path
from typing import Any

import dagster as dg

from ..core.artifact_mirror import ArtifactMirror
from ..core.atomic import atomic_write_json, read_json
from ..core.layout import ArtifactLayout
from ..game.names import validate_species_name


class JsonArtifactIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as one JSON artifact, written atomically (temp + rename).

    Path: <base_dir>/<asset key path>/<species>.json; with ``store_uri`` the same name in the store,
    written after the local file and read from there first. A run that fails before returning
    leaves the previous artifact untouched, locally and in the store.
    """

    base_dir: str
    store_uri: str = ""
    store_endpoint_url: str = ""

    def _path(self, context: Any) -> Path:
        species = validate_species_name(context.asset_partition_key, "<partition key>") \
            if context.has_asset_partitions else None
        return ArtifactLayout(Path(self.base_dir)).data(*context.asset_key.path, species=species)

    def _mirror(self) -> ArtifactMirror:
        return ArtifactMirror.configured(self.base_dir, self.store_uri, self.store_endpoint_url)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = self._path(context)
        atomic_write_json(path, obj)
        metadata = {"artifact": dg.MetadataValue.path(str(path))}
        uri = self._mirror().publish(path)
        if uri:
            metadata["artifact_uri"] = dg.MetadataValue.path(uri)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        path = self._path(context)
        self._mirror().fetch(path)
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} has not been materialised yet")
        return read_json(path)
