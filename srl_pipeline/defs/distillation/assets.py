"""The cascade (DESIGN.md §3, §5): bronze_traces -> silver_adapter -> gold_adapter, per species.

``bronze_traces``: the teacher's verified plays (:mod:`srl_pipeline.training.traces`), played by
the current Bronze or, when it is unhealthy, the last registered one
(:mod:`srl_pipeline.training.teacher`). ``silver_adapter`` and ``gold_adapter`` come from one
factory, :func:`distilled_adapter`: each is a distillation job (:mod:`srl_pipeline.training.distill_trainer`)
through the same backend, checkpoints and promotion as Bronze's stages.
"""


import time
from pathlib import Path

import dagster as dg

from ...core.atomic import atomic_write_json, discard_dir, read_json, stale_staging
from ...core.catalogue import TEACHERS
from ...core.hashing import content_hash
from ...evaluation.inline_plots import bars_markdown, sparkline_markdown
from ...training.job_identity import checkpoint_key, file_fingerprint
from ...training.job_spec import TrainingJobSpec
from ..artifact_sync import synced
from ..collaboration.resources import CollaborationResource
from ..evaluation.resources import EvaluationSettings
from ..game.resources import GameDataResource, ScenarioSettings
from ..partitions import species_partitions
from ..registry.resources import RegistrySettings
from ..shared import lore_from_artifact, species_key
from ..training.assets import _curves, adapter_version, readable, run_and_promote
from ..training.backends import TrainingBackend
from ..training.resources import TrainingSettings
from ..ui_metadata import curve_metadata, inline_md
from .resources import DistillationSettings

GROUP = "distillation"


def bronze_teacher(training: TrainingSettings, registry: RegistrySettings, species: str):
    """The Bronze that teaches this species tonight (current, or the last registered: stale)."""
    from ...training.teacher import adapter_problems, choose_bronze

    layout = training.layout()
    folder = layout.adapter("rlvr_adapter", species)
    metrics_path, marker = folder / "metrics.json", layout.failure_marker("rlvr_adapter", species)
    metrics = read_json(metrics_path) if metrics_path.is_file() else None
    failure = read_json(marker) if marker.is_file() else None
    srl_marker = layout.failure_marker("srl_adapter", species)   # not an upstream of bronze_traces: synced here
    if training.mirror().fetch_or_forget(srl_marker):  # SRL failed: RLVR's adapter on disk continues an SRL that is not the current one
        failure = failure or {"error": f"SRL failed: {read_json(srl_marker).get('error')}"}
    problems = adapter_problems(folder, metrics, training.kl_bound, failure)
    current = {"base_model": training.base_model("bronze"), "adapter": str(folder),
               "adapter_version": adapter_version(folder) if folder.is_dir() else ""}
    return choose_bronze(current, problems, registry.build().production(species, "bronze"))


@dg.asset(partitions_def=species_partitions, group_name=GROUP, code_version="1", io_manager_key="artifacts",
          deps=["rlvr_adapter", "srl_dataset", "monster_lore", "lore_index", dg.AssetKey(["base_models", "bronze"])],
          kinds={"pytorch"})
@synced
def bronze_traces(context: dg.AssetExecutionContext, training: TrainingSettings, distillation: DistillationSettings,
                  registry: RegistrySettings, evaluation: EvaluationSettings, collaboration: CollaborationResource,
                  game_data: GameDataResource, scenario_settings: ScenarioSettings) -> dg.Output[dict]:
    """Bronze (SRL -> RLVR) plays the train encounters and freshly generated ones; the simulator's
    successes whose verifier score reaches the threshold are kept, one trace row per turn. Plays
    the last registered Bronze instead when the current one failed (said in the metadata)."""
    from ...collaboration.jobs import SpeciesContext
    from ...collaboration.offline_roles import RuleBasedVerifier
    from ...evaluation.encounters import encounter_tasks
    from ...game.lore_index import LoreIndex
    from ...game.rules import ruleset_from_artifact
    from ...training.base_models import load_model
    from ...training.plan_rollout import PlanTask, rollout_plans
    from ...training.teacher import NoTeacher
    from ...training.traces import fresh_scenarios, summarize_plays, trace_rows, verify_play

    species = species_key(context)
    layout = training.layout()
    try:
        teacher = bronze_teacher(training, registry, species)
        training.mirror().fetch_if_under_root(teacher.adapter)   # a stale teacher's registered copy
    except NoTeacher as exc:
        raise dg.Failure(description=str(exc)) from None
    if teacher.stale:
        context.log.warning(teacher.reason)
    data = read_json(layout.data("srl_dataset", species=species))
    ruleset = ruleset_from_artifact(data["rules"])
    train = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "train"]
    lore = lore_from_artifact(read_json(layout.data("monster_lore", species=species)))
    index = LoreIndex.from_dict(read_json(layout.data("lore_index", species=species)))
    known = {r["scenario"]["id"] for r in data["plan_tasks"]}
    fresh = fresh_scenarios(ruleset, scenario_settings.to_settings(), game_data.world().player_profiles,
                            distillation.fresh_scenarios, known)
    fresh_tasks, _ = encounter_tasks([(s, []) for s in fresh], ruleset, lore, index, collaboration.lore_passages)
    tasks = [(t, "train") for t in train] + [(t, "fresh") for t in fresh_tasks]
    started = time.monotonic()
    model, tok = load_model(teacher.base_model, teacher.adapter)
    ev = evaluation.to_settings()
    common = dict(max_new_tokens=ev.max_new_tokens, max_steps=ev.max_steps, batch_size=ev.batch_size, chat=ev.chat,
                  menu_constrained=ev.menu_constrained)
    only = [t for t, _ in tasks]
    plays = [(p, 0) for p in rollout_plans(model, tok, only, ruleset, samples=1, do_sample=False, **common)]
    if distillation.sampled_plays:
        import torch

        torch.manual_seed(training.seed)
        plays += [(p, 1) for p in rollout_plans(model, tok, only, ruleset, samples=distillation.sampled_plays,
                                                do_sample=True, temperature=distillation.play_temperature, **common)]
    del model
    verifier, ctx = RuleBasedVerifier(), SpeciesContext(ruleset, lore, index)
    judged, rows = [], []
    for play, offset in plays:
        task, source = tasks[play.task_index]
        play.sample += offset * 1000  # greedy plays 0, sampled plays 1000+ (distinct trace ids)
        score = verify_play(play, task, verifier, ctx) if play.success else 0.0
        kept = play.success and score >= distillation.min_trace_score
        judged.append((play, kept))
        if kept:
            rows += trace_rows(play, task, source, score)
    summary = summarize_plays(judged)
    artifact = {"species": species, "teacher": teacher.to_dict(), "summary": summary,
                "settings": distillation.model_dump(), "fresh_scenarios": len(fresh_tasks), "traces": rows}
    goals = summary["by_goal"]
    metadata = {
        "plays": summary["plays"], "successes": summary["successes"], "kept_plays": summary["kept"],
        "trace_turns": len(rows), "success_rate": summary["success_rate"], "fresh_scenarios": len(fresh_tasks),
        "teacher": teacher.reason, "stale_teacher": teacher.stale,
        "teacher_adapter_version": teacher.adapter_version,
        "seconds": round(time.monotonic() - started, 1),
        "success rate by goal": dg.MetadataValue.md(bars_markdown({g: v["success_rate"] for g, v in goals.items()},
                                                                  "success rate")),
        "by goal": dg.MetadataValue.table(
            [dg.TableRecord({"goal": g, "plays": v["plays"], "successes": v["successes"], "kept": v["kept"],
                             "success rate (%)": round(100 * v["success_rate"], 1)}) for g, v in goals.items()],
            schema=dg.TableSchema(columns=[dg.TableColumn("goal", "string"), dg.TableColumn("plays", "int"),
                                           dg.TableColumn("successes", "int"), dg.TableColumn("kept", "int"),
                                           dg.TableColumn("success rate (%)", "float")])),
        "warm start": ("the students warm-start on these traces" if rows else
                       "no play was kept: the students skip their warm start and distil on-policy only"),
    }
    return dg.Output(artifact, data_version=dg.DataVersion(content_hash(artifact)[:16]), metadata=metadata)


def _teacher_of(tier: str, training: TrainingSettings, species: str, traces: dict) -> dict:
    """The teacher's base model, adapter and version for a student tier."""
    teacher_tier = TEACHERS[tier]
    if teacher_tier == "bronze":
        t = traces["teacher"]
        return {"tier": "bronze", "base_model": t["base_model"], "adapter": t["adapter"],
                "adapter_version": t["adapter_version"], "stale": t["stale"], "registry_version": t["registry_version"],
                "reason": t["reason"]}
    folder = training.layout().adapter(f"{teacher_tier}_adapter", species)
    return {"tier": teacher_tier, "base_model": training.base_model(teacher_tier), "adapter": str(folder),
            "adapter_version": adapter_version(folder), "stale": bool(traces["teacher"]["stale"]),
            "registry_version": None, "reason": f"the {teacher_tier} student of this run"
                                                + (" (itself taught by a stale Bronze)" if traces["teacher"]["stale"] else "")}


def distilled_adapter(tier: str) -> dg.AssetsDefinition:
    """The student asset of ``tier``, taught by the tier above it (catalogue.TEACHERS)."""
    teacher_tier = TEACHERS[tier]
    asset = f"{tier}_adapter"
    deps = ["bronze_traces", "srl_dataset", dg.AssetKey(["base_models", tier]), dg.AssetKey(["base_models", teacher_tier])]
    if teacher_tier != "bronze":
        deps.insert(0, f"{teacher_tier}_adapter")

    @dg.asset(name=asset, partitions_def=species_partitions, group_name=GROUP, code_version="1", pool="local_training",
              deps=deps, kinds={"pytorch"},
              description=f"{tier.title()} distilled from {teacher_tier.title()}: a supervised warm start on Bronze's "
                          "verified traces, then on-policy per-token reverse KL to the teacher, as a LoRA adapter.")
    @synced
    def _student(context: dg.AssetExecutionContext, training: TrainingSettings, training_backend: TrainingBackend,
                 distillation: DistillationSettings) -> dg.MaterializeResult:
        species = species_key(context)
        layout = training.layout()
        final = layout.adapter(asset, species)
        for leftover in stale_staging(final.parent, final.name):
            discard_dir(leftover)
        traces = read_json(layout.data("bronze_traces", species=species))
        srl = read_json(layout.data("srl_dataset", species=species))
        teacher = _teacher_of(tier, training, species, traces)
        training.mirror().fetch_if_under_root(teacher["adapter"])   # a stale Bronze's registered copy
        base_model = training.base_model(tier)
        previous = read_json(final / "metrics.json") if (final / "metrics.json").is_file() else None
        base_fingerprint = file_fingerprint(Path(base_model) / "model.safetensors", base_model)
        warm = bool(distillation.incremental and previous and (final / "adapter_model.safetensors").is_file()
                    and previous.get("base_model_fingerprint") == base_fingerprint)  # the same student base
        seen = set(previous.get("trace_ids", [])) if warm else set()
        new_traces = [t for t in traces["traces"] if t["id"] not in seen]
        prompts = [{"id": e["id"], "prompt": e["prompt"]} for e in srl["examples"] if e["split"] == "train"]
        prompts += [{"id": t["id"], "prompt": t["prompt"]} for t in traces["traces"]]
        dataset = layout.data("distillation_data", tier, species=species)
        atomic_write_json(dataset, {
            "species": species, "tier": tier, "teacher": teacher,
            "traces": [{"id": t["id"], "prompt": t["prompt"], "completion": t["completion"]} for t in new_traces],
            "prompts": prompts,
            "validation": [{"id": e["id"], "prompt": e["prompt"], "target": e["target"]}
                           for e in srl["examples"] if e["split"] == "validation"],
            # the validation encounters and the rules: the checkpoint selection plays them (grpo/selection.py)
            "plan_tasks": [t for t in srl["plan_tasks"] if t["split"] == "validation"],
            "rules": srl["rules"]})
        max_steps = distillation.incremental_max_steps if warm else distillation.max_steps
        hyperparameters = training.hyperparameters("distill")
        if warm:   # one candidate: the registry's no-regression gate weighs it against the student in production
            hyperparameters = {**hyperparameters, "select_every": 0}
        initial = str(final) if warm else None
        job = checkpoint_key(dataset, base_model, {**hyperparameters, "teacher": teacher["adapter_version"]},
                             max_steps, training.seed, initial)

        def spec(tmp: Path) -> TrainingJobSpec:
            return TrainingJobSpec(
                stage="distill", species=species, tier=tier, base_model=base_model, dataset=str(dataset),
                output_dir=str(tmp), checkpoint_dir=str(layout.checkpoints(asset, species, job)),
                initial_adapter=initial, hyperparameters=hyperparameters, max_steps=max_steps, seed=training.seed,
                checkpoint_every_steps=training.checkpoint_every_steps,
                checkpoint_every_minutes=training.checkpoint_every_minutes, keep_checkpoints=training.keep_checkpoints,
                teacher_base_model=teacher["base_model"], teacher_adapter=teacher["adapter"])

        def extra(metrics: dict) -> dict:
            seconds = metrics.get("train_seconds") or 0.0
            scratch = previous.get("from_scratch_train_seconds") if warm else seconds
            return {"teacher": teacher, "base_model_fingerprint": base_fingerprint, "trace_ids": sorted(seen | {t["id"] for t in traces["traces"]}),
                    "new_traces": len(new_traces), "warm_started": warm, "from_scratch_train_seconds": scratch,
                    "from_scratch_steps": previous.get("from_scratch_steps") if warm else max_steps,
                    "cost_vs_scratch": round(seconds / scratch, 4) if warm and scratch else None}

        result, metrics, version = run_and_promote(context, training_backend, layout, asset, species, spec, extra)
        history = metrics.get("history") or []
        kl_curve = inline_md(sparkline_markdown([h.get("kl_to_teacher") for h in history], "KL to teacher"))
        summary = {k: readable(v) for k, v in metrics.get("summary", {}).items() if isinstance(v, (int, float, str))}
        meta = {**curve_metadata(metrics, training.kl_bound), **(result.metadata or {}), **summary,
                "adapter": dg.MetadataValue.path(str(final)), "teacher": f"{teacher['tier']} {teacher['adapter_version']}",
                "teacher_note": teacher["reason"], "stale_teacher": bool(teacher["stale"]),
                "warm_started": warm, "new_traces": len(new_traces), "traces_seen": len(metrics["trace_ids"]),
                "from_scratch_train_seconds": readable(metrics["from_scratch_train_seconds"] or 0.0),
                **_curves(metrics)}
        if kl_curve:
            meta["KL to teacher curve"] = dg.MetadataValue.md(kl_curve)
        if metrics.get("cost_vs_scratch") is not None:
            meta["cost_vs_scratch"] = metrics["cost_vs_scratch"]
        return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata=meta)

    return _student


silver_adapter = distilled_adapter("silver")
gold_adapter = distilled_adapter("gold")
DISTILLATION_ASSETS = [bronze_traces, silver_adapter, gold_adapter]
