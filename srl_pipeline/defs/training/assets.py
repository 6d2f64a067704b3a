"""Assets of training: base_models (one per tier, not partitioned), srl_adapter and rlvr_adapter (Bronze, per species)."""

import time
from dataclasses import replace
from pathlib import Path

import dagster as dg

from ...core.atomic import atomic_dir, atomic_write_json, discard_dir, read_json, stale_staging
from ...core.catalogue import tier_names
from ...core.hashing import content_hash, file_sha256
from ...training.job_identity import checkpoint_key
from ...training.job_spec import TrainingJobSpec
from ..artifact_sync import synced
from ..collaboration.resources import CollaborationResource
from ..game.resources import GameDataResource
from ..partitions import species_partitions
from ..shared import species_key
from ..ui_metadata import curve_metadata
from .backends import TrainingBackend
from .resources import TrainingSettings

TIERS = tier_names()
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
BASE_MODEL_KEYS = [dg.AssetKey(["base_models", t]) for t in TIERS]


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name="models", description=f"The {key.path[-1]} tier's base model (HF format)",
                        kinds={"pytorch"}, code_version="4") for key in BASE_MODEL_KEYS],
    can_subset=False,
)
def base_models(context: dg.AssetExecutionContext, game_data: GameDataResource, training: TrainingSettings,
                collaboration: CollaborationResource):
    """Per tier, a hub id / path from the profile, or `builtin`: a tokenizer trained on the game's
    text and Qwen2-architecture models of decreasing size, warmed up on the step format and the
    voices (never on goal-reaching plans), saved in Hugging Face format."""
    builtin = [t for t in TIERS if training.base_models.get(t, "builtin") == "builtin"]
    mirror = training.mirror()  # the built-in folders are published to the artifact store, if any
    infos = {}
    if builtin:
        from ...training.base_models import BUILTIN_TIERS, WarmupSettings, build_builtin_base_models

        out = training.layout().builtin_base_models()
        started = time.monotonic()
        specs = {t: BUILTIN_TIERS[t] for t in builtin}
        for t, sizes in (training.builtin_tiers or {}).items():
            if t in specs:
                specs[t] = replace(specs[t], **sizes)
        # the warm-up samples carry as much lore as the SRL prompts will (the retriever's count)
        infos = build_builtin_base_models(Path(game_data.root), out, specs,
                                          seed=training.seed, warmup_steps=training.warmup_steps,
                                          settings=WarmupSettings(lore_passages=collaboration.lore_passages),
                                          processes=training.base_model_processes)
        context.log.info(f"built {sorted(infos)} in {time.monotonic() - started:.1f}s")
    for tier in TIERS:
        key = dg.AssetKey(["base_models", tier])
        if tier in infos:
            info = infos[tier]
            uri = mirror.publish(info.path)
            yield dg.MaterializeResult(asset_key=key, data_version=dg.DataVersion(content_hash(info.to_dict())[:16]), metadata={
                **({"artifact_uri": dg.MetadataValue.path(uri)} if uri else {}),
                "model": str(info.path), "parameters": info.parameters, "vocabulary": info.vocab_size,
                "warmup_steps": info.warmup_steps, "warmup_loss_first": round(info.warmup_loss["first"], 4),
                "warmup_loss_last": round(info.warmup_loss["last"], 4), "seconds": round(info.seconds, 1)})
        else:
            ident = training.base_models[tier]
            yield dg.MaterializeResult(asset_key=key, data_version=dg.DataVersion(content_hash(ident)[:16]),
                                       metadata={"model": ident})


def train_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend,
                  asset: str, stage: str, max_steps: int, initial_adapter: str | None = None):
    """Run one training job for this species through the backend, then promote its adapter.

    The output is staged beside the final folder and promoted only when the job succeeded, so a
    failed or interrupted run keeps the previous good adapter (and leaves no staging folder). The
    adapter's data version is the hash of its files, so a rerun that yields the same weights leaves
    everything downstream fresh."""
    species = species_key(context)
    layout = training.layout()
    final = layout.adapter(asset, species)
    for leftover in stale_staging(final.parent, final.name):  # of a run that was killed
        discard_dir(leftover)
    dataset = layout.data("srl_dataset", species=species)
    hyperparameters = training.hyperparameters(stage)
    base_model = training.base_model("bronze")
    job = checkpoint_key(dataset, base_model, hyperparameters, max_steps, training.seed, initial_adapter)
    spec = lambda tmp: TrainingJobSpec(  # noqa: E731
        stage=stage, species=species, tier="bronze", base_model=base_model, dataset=str(dataset),
        output_dir=str(tmp), checkpoint_dir=str(layout.checkpoints(asset, species, job)),
        initial_adapter=initial_adapter, hyperparameters=hyperparameters, max_steps=max_steps, seed=training.seed,
        checkpoint_every_steps=training.checkpoint_every_steps,
        checkpoint_every_minutes=training.checkpoint_every_minutes, keep_checkpoints=training.keep_checkpoints)
    result, metrics, version = run_and_promote(context, training_backend, layout, asset, species, spec)
    summary = {k: readable(v) for k, v in metrics.get("summary", {}).items() if isinstance(v, (int, float, str))}
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={**curve_metadata(metrics, training.kl_bound), **(result.metadata or {}),
                  "adapter": dg.MetadataValue.path(str(final)), **summary, **_curves(metrics)})


def run_and_promote(context: dg.AssetExecutionContext, training_backend: TrainingBackend, layout, asset: str,
                    species: str, make_spec, extra_metrics=None):
    """Run the job whose spec ``make_spec(staging folder)`` builds and promote its adapter; a
    failure leaves the previous adapter and a failure marker (what the stale-Bronze fallback
    reads), a success removes the marker. ``extra_metrics(metrics)`` adds keys to metrics.json
    before promotion. Returns (backend result, metrics, adapter version)."""
    final = layout.adapter(asset, species)
    marker = layout.failure_marker(asset, species)
    try:
        with atomic_dir(final) as tmp:  # promoted only when the job succeeded; discarded otherwise
            result = training_backend.run(context, make_spec(tmp))
            metrics = publish_paths(tmp, final)
            if extra_metrics is not None:
                metrics.update(extra_metrics(metrics))
                atomic_write_json(tmp / "metrics.json", metrics)
            version = adapter_version(tmp)
    except Exception as exc:
        atomic_write_json(marker, {"asset": asset, "species": species, "error": f"{type(exc).__name__}: {exc}"[:2000],
                                   "run_id": context.run_id, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        raise
    marker.unlink(missing_ok=True)
    return result, metrics, version


def publish_paths(staged: Path, final: Path) -> dict:
    """The provenance files kept beside the adapter name where it is published, not the staging
    folder it was written to; returns the metrics."""
    metrics = read_json(staged / "metrics.json")
    metrics["adapter_dir"] = str(final)
    if isinstance(metrics.get("summary"), dict) and "adapter_dir" in metrics["summary"]:
        metrics["summary"]["adapter_dir"] = str(final)   # the UI's metadata is drawn from the summary
    atomic_write_json(staged / "metrics.json", metrics)
    spec_path = staged / "job_spec.json"
    if spec_path.is_file():
        spec = read_json(spec_path)
        spec["output_dir"] = str(final)
        atomic_write_json(spec_path, spec)
    return metrics


def adapter_version(folder: Path) -> str:
    """The data version of an adapter: the hash of its weights and its PEFT config."""
    return content_hash({name: file_sha256(folder / name) for name in ADAPTER_FILES if (folder / name).is_file()})[:16]


def readable(value):
    """Metadata a person reads: floats to 4 significant digits."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


@dg.asset(partitions_def=species_partitions, group_name="training", code_version="2", pool="local_training",
          deps=["srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
@synced
def srl_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """Bronze trained with SRL: GRPO on the step-wise similarity reward with dynamic sampling and
    a bounded KL to the base model, as a LoRA adapter (PEFT format)."""
    return train_adapter(context, training, training_backend, "srl_adapter", "srl", training.srl_max_steps)


@dg.asset(partitions_def=species_partitions, group_name="training", code_version="1", pool="local_training",
          deps=["srl_adapter", "srl_dataset", dg.AssetKey(["base_models", "bronze"])], kinds={"pytorch"})
@synced
def rlvr_adapter(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend):
    """SRL -> RLVR: the SRL adapter trained further on whole plans rewarded by the simulator alone,
    with the SRL model as the KL reference (so RLVR keeps what SRL taught)."""
    srl = training.layout().adapter("srl_adapter", species_key(context))
    return train_adapter(context, training, training_backend, "rlvr_adapter", "rlvr", training.rlvr_max_steps,
                         initial_adapter=str(srl))


def _curves(metrics: dict) -> dict:
    """Reward and KL curves as an embedded PNG (drawn by evaluation.plots.training_curves): the
    detailed view behind "[Show Markdown]"; the inline sparklines come first (ui_metadata)."""
    import base64

    from ...evaluation.plots import training_curves

    png = training_curves(metrics)
    if png is None:
        return {}
    return {"curves": dg.MetadataValue.md(f"![curves](data:image/png;base64,{base64.b64encode(png).decode()})")}


TRAINING_ASSETS = [base_models, srl_adapter, rlvr_adapter]
