"""Assets that read and write artifacts outside the IO manager (adapters, base models, the data
they read by path) sync them with the artifact store: the upstream artifacts and the asset's own
previous folders (an incremental student warm-starts from its previous adapter) are brought from
the store before the asset's body runs, and the folders it wrote are published after it succeeded.
The JSON outputs are the IO manager's (published in ``handle_output``). Without a store
(the local profile) this is a no-op."""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable

import dagster as dg

from .training.resources import TrainingSettings


def _species(context: dg.AssetExecutionContext) -> str | None:
    return context.partition_key if context.has_partition_key else None


def _adapter_markers(keys, training: TrainingSettings, species: str | None):
    """The failure markers of the single-name (adapter-like) assets among ``keys``."""
    layout = training.layout()
    return [layout.failure_marker(k.path[0], species) for k in keys if species is not None and len(k.path) == 1]


def fetch_upstream(context: dg.AssetExecutionContext, training: TrainingSettings) -> list[str]:
    """Bring every upstream artifact of this step (and its own previous folders) from the store;
    returns their names."""
    mirror, layout, species = training.mirror(), training.layout(), _species(context)
    if not mirror.enabled:
        return []
    fetched = []
    for key in sorted(context.assets_def.dependency_keys, key=lambda k: k.to_user_string()):
        candidates = [*layout.asset_locations(*key.path, species=species)] if species else []
        candidates += layout.asset_locations(*key.path)
        hit = mirror.fetch_any(*candidates)
        if hit is not None:
            fetched.append(mirror.name(hit))
        elif species is None:   # an unpartitioned reader of a partitioned asset: every species
            fetched += [mirror.name(p) for p in mirror.fetch_files(layout.root.joinpath(*key.path))]
    for marker in _adapter_markers(context.assets_def.dependency_keys, training, species):
        if mirror.fetch_or_forget(marker):     # what the stale-Bronze fallback reads, as the store has it
            fetched.append(mirror.name(marker))
    for key in context.selected_asset_keys:
        folder, _ = layout.asset_locations(*key.path, species=species)
        if mirror.fetch(folder):
            fetched.append(mirror.name(folder))
        mirror.forget_version(folder)          # the body replaces it: trust the store's version only after publish
    return fetched


def publish_outputs(context: dg.AssetExecutionContext, training: TrainingSettings) -> dict[str, str]:
    """Publish the folders this step wrote (and drop a failure marker that no longer holds)."""
    mirror, layout, species = training.mirror(), training.layout(), _species(context)
    published: dict[str, str] = {}
    if not mirror.enabled:
        return published
    for key in context.selected_asset_keys:
        folder, _ = layout.asset_locations(*key.path, species=species)
        if folder.is_dir():
            published[key.to_user_string()] = mirror.publish(folder)
    for marker in _adapter_markers(context.selected_asset_keys, training, species):
        mirror.remove(marker)
    return published


def publish_failure_markers(context: dg.AssetExecutionContext, training: TrainingSettings, since: float) -> None:
    """A marker this step wrote on failure (what the stale-Bronze fallback reads) goes to the store
    too; a problem doing so is logged, never raised over the step's own error."""
    mirror = training.mirror()
    if not mirror.enabled:
        return
    for marker in _adapter_markers(context.selected_asset_keys, training, _species(context)):
        try:
            if marker.is_file() and marker.stat().st_mtime >= since:
                mirror.publish(marker)
        except Exception as exc:  # noqa: BLE001 - the step's error is the one to raise
            context.log.warning(f"could not publish {marker} to the artifact store: {type(exc).__name__}: {exc}")


def synced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an asset's body (it takes ``context`` first and the ``training`` resource; a plain
    function, not a generator): its artifacts come from the store first, its folders go to the
    store after; an adapter's published URI is added to its metadata (``artifact_uri``)."""
    if inspect.isgeneratorfunction(fn):
        raise TypeError(f"@synced cannot wrap the generator {fn.__name__}: publish its folders in its body")

    @functools.wraps(fn)
    def body(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Any:
        training: TrainingSettings = kwargs["training"]
        fetched = fetch_upstream(context, training)
        if fetched:
            context.log.info(f"from the artifact store: {', '.join(fetched)}")
        started = time.time() - 1.0   # file times may be coarser than the clock
        try:
            result = fn(context, *args, **kwargs)
        except Exception:
            publish_failure_markers(context, training, since=started)
            raise
        published = publish_outputs(context, training)
        if isinstance(result, dg.MaterializeResult) and len(published) == 1:   # an adapter's folder
            uri = next(iter(published.values()))
            result = result._replace(metadata={**(result.metadata or {}), "artifact_uri": dg.MetadataValue.path(uri)})
        return result

    return body
