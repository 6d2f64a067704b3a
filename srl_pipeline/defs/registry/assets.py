"""registered_models (per species): each tier's adapter registered through the no-regression gate,
with its lineage, metrics, cost and approval status (srl_pipeline/registry does the work)."""


import shutil

import dagster as dg

from ...core.atomic import read_json, write_dir_atomically
from ...core.catalogue import TEACHERS, TIER_MODELS, tier_names
from ...core.hashing import content_hash
from ...registry import Candidate, estimate_cost
from ...registry.promotion import register_if_better
from ..artifact_sync import synced
from ..partitions import species_partitions
from ..shared import species_key
from ..training.resources import TrainingSettings
from .resources import RegistrySettings

# What lineage names, and the asset whose data version it is.
LINEAGE_ASSETS = {"lore": "monster_lore", "rules": "game_rules", "trajectories": "expert_trajectories"}
# The adapter assets whose training seconds make a tier's cost.
COST_ASSETS = {"bronze": ("srl_adapter", "rlvr_adapter"), "silver": ("silver_adapter",), "gold": ("gold_adapter",)}
METRICS = ("success_greedy", "success_avg_k", "step_similarity", "format_error_rate", "parameters",
           "latency_ms_per_turn", "handwritten_success_greedy")


def data_version(instance: dg.DagsterInstance, asset: str, species: str) -> str:
    """The asset's data version in its latest materialisation of the species ("unknown" if none)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[species]), limit=1).records
    if not records or records[0].asset_materialization is None:
        return "unknown"
    return records[0].asset_materialization.tags.get("dagster/data_version", "unknown")


def _store_adapter(source, registry_root, training: TrainingSettings, species: str, tier: str, version: str) -> str:
    """An immutable copy of the adapter in the registry's store, by content version (the
    training folder is overwritten by the next run; a registered version must not change),
    published to the artifact store when there is one (the stale-Bronze fallback may read it on
    another machine)."""
    dest = training.layout().registered_adapter(registry_root, species, tier, version)
    if not (dest / "adapter_model.safetensors").is_file():
        write_dir_atomically(dest, lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True))
    training.mirror().publish_if_under_root(dest)   # idempotent: a version already current is not uploaded again
    return str(dest)


@dg.asset(partitions_def=species_partitions, group_name="registry", code_version="1", io_manager_key="artifacts",
          deps=["model_evaluation", "bronze_traces", "rlvr_adapter", "srl_adapter", "silver_adapter", "gold_adapter",
                "monster_lore", "game_rules", "expert_trajectories"])
@synced
def registered_models(context: dg.AssetExecutionContext, training: TrainingSettings,
                      registry: RegistrySettings) -> dg.Output[dict]:
    """Every tier of the species offered to the registry: registered Approved (production) when its
    evaluation is complete and it does not regress on the version in production, else Rejected
    with the gate's reason (production unchanged)."""
    from ..training.assets import adapter_version

    species = species_key(context)
    layout = training.layout()
    reg = registry.build()
    evaluation = read_json(layout.data("model_evaluation", species=species))
    traces = read_json(layout.data("bronze_traces", species=species))
    lineage_data = {k: data_version(context.instance, a, species) for k, a in LINEAGE_ASSETS.items()}
    out, rows = {}, []
    for tier in tier_names():
        model = TIER_MODELS[tier]
        folder = layout.adapter(f"{tier}_adapter" if tier != "bronze" else "rlvr_adapter", species)
        result = evaluation["models"].get(model)
        if tier == "bronze" and traces["teacher"]["stale"]:
            out[tier] = {"registered": None, "status": "skipped", "gate": "Bronze is unhealthy (stale): not offered"}
            rows.append((tier, out[tier], reg.production(species, tier)))
            continue
        metrics_paths = [layout.adapter(a, species) / "metrics.json" for a in COST_ASSETS[tier]]
        seconds = sum((read_json(p).get("train_seconds") or 0.0) for p in metrics_paths if p.is_file())
        version = adapter_version(folder)
        lineage = dict(lineage_data)
        if tier in TEACHERS:
            teacher = read_json(folder / "metrics.json").get("teacher", {})
            lineage["teacher"] = f"{teacher.get('tier')} {teacher.get('adapter_version')}" + (
                f" (registered v{teacher['registry_version']})" if teacher.get("registry_version") else "") + (
                " stale" if teacher.get("stale") else "")
        else:
            lineage["teacher"] = "none (SRL -> RLVR)"
        complete = bool(result) and result.get("tasks") == evaluation["test_tasks"] > 0
        candidate = Candidate(
            species=species, tier=tier, model=model,
            adapter_uri=_store_adapter(folder, registry.local_dir, training, species, tier, version),
            adapter_version=version, base_model=training.base_model(tier), lineage=lineage,
            metrics={m: float(result[m]) for m in METRICS if result and isinstance(result.get(m), (int, float))},
            cost=estimate_cost(seconds, registry.usd_per_hour.get(tier, 0.0)))
        got = register_if_better(reg, candidate, evaluation_passed=complete, metric=registry.metric,
                                 tolerance=registry.tolerance, manual_approval=registry.manual_approval,
                                 max_format_error_rate=registry.max_format_error_rate)
        production = reg.production(species, tier)
        out[tier] = {"registered": got.version, "status": got.status, "gate": got.gate,
                     "production": production.version if production else None, "adapter_version": version,
                     "lineage": lineage, "cost": candidate.cost, "metrics": candidate.metrics}
        rows.append((tier, out[tier], production))
    base = evaluation["models"].get("base") or {}   # the untrained Bronze: what "learnt something" is measured against
    artifact = {"species": species, "backend": registry.backend, "tiers": out,
                "untrained_base": {"metric": registry.metric, "value": base.get(registry.metric)}}
    table = dg.MetadataValue.table(
        [dg.TableRecord({"tier": t, "version": o.get("registered"), "status": o["status"],
                         "production": p.version if p else None, "gate": o["gate"],
                         "success greedy (%)": round(100 * o["metrics"]["success_greedy"], 1)
                         if o.get("metrics", {}).get("success_greedy") is not None else None,
                         "train s": o.get("cost", {}).get("train_seconds"), "USD": o.get("cost", {}).get("usd")})
         for t, o, p in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn("tier", "string"), dg.TableColumn("version", "int"),
                                       dg.TableColumn("status", "string"), dg.TableColumn("production", "int"),
                                       dg.TableColumn("gate", "string"), dg.TableColumn("success greedy (%)", "float"),
                                       dg.TableColumn("train s", "float"), dg.TableColumn("USD", "float")]))
    metadata = {"registry": reg.label, "tiers": table,
                **{f"{t}/production_version": p.version for t, _, p in rows if p is not None},
                "lineage": dg.MetadataValue.json(lineage_data)}
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


REGISTRY_ASSETS = [registered_models]
