"""Assets that read and write artifacts outside the IO manager (adapters, base models, the data
they read by path) sync them with the artifact store: the upstream artifacts are brought from the
store before the asset's body runs, and the folders it wrote are published after it succeeded.
The JSON outputs are the IO manager's (published in ``handle_output``). Without a store
(the local profile) this is a no-op."""

from __future__ import annotations

import functools
from typing import Any, Callable

import dagster as dg

from .training.resources import TrainingSettings


def _species(context: dg.AssetExecutionContext) -> str | None:
    return context.partition_key if context.has_partition_key else None


def fetch_upstream(context: dg.AssetExecutionContext, training: TrainingSettings) -> list[str]:
    """Bring every upstream artifact of this step from the store; returns their names."""
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
        if species is not None and len(key.path) == 1:   # an adapter's failure marker, as the store has it
            marker = layout.failure_marker(key.path[0], species)
            if mirror.fetch(marker):
                fetched.append(mirror.name(marker))
            else:
                marker.unlink(missing_ok=True)
    return fetched


def publish_outputs(context: dg.AssetExecutionContext, training: TrainingSettings) -> dict[str, str]:
    """Publish the folders this step wrote (and drop a failure marker that no longer holds)."""
    mirror, layout, species = training.mirror(), training.layout(), _species(context)
    published = {}
    if not mirror.enabled:
        return published
    for key in context.selected_asset_keys:
        folder, _ = layout.asset_locations(*key.path, species=species)
        if folder.is_dir():
            published[key.to_user_string()] = mirror.publish(folder)
        if species is not None and len(key.path) == 1:
            mirror.remove(layout.failure_marker(key.path[0], species))
    return published


def publish_failure_marker(context: dg.AssetExecutionContext, training: TrainingSettings) -> None:
    """A failed adapter's marker (what the stale-Bronze fallback reads) goes to the store too."""
    mirror, layout, species = training.mirror(), training.layout(), _species(context)
    if mirror.enabled and species is not None:
        for key in context.selected_asset_keys:
            marker = layout.failure_marker(key.path[0], species)
            if len(key.path) == 1 and marker.is_file():
                mirror.publish(marker)


def synced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an asset's body (it takes ``context`` first and the ``training`` resource): its
    upstream artifacts come from the store first, its folders go to the store after; an adapter's
    published URI is added to its metadata (``artifact_uri``)."""

    @functools.wraps(fn)
    def body(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Any:
        training: TrainingSettings = kwargs["training"]
        fetched = fetch_upstream(context, training)
        if fetched:
            context.log.info(f"from the artifact store: {', '.join(fetched)}")
        try:
            result = fn(context, *args, **kwargs)
        except BaseException:
            publish_failure_marker(context, training)
            raise
        published = publish_outputs(context, training)
        if isinstance(result, dg.MaterializeResult) and len(published) == 1:   # an adapter's folder
            uri = next(iter(published.values()))
            result = result._replace(metadata={**(result.metadata or {}), "artifact_uri": dg.MetadataValue.path(uri)})
        return result

    return body
