"""Blocking health checks on trained adapters: nothing unhealthy is ever built upon.

Every adapter (SRL, RLVR, and the experiments' SFT and RLVR-only) gets the same three health
checks: training finished with finite losses, the KL to its reference stayed within the bound
(GRPO stages), and the adapter loads through PEFT on its base and generates. Each stage adds its
own gain check: SRL's validation step reward above the base's, RLVR's validation plan success not
below the SRL model's.
"""

import json
import math
from pathlib import Path

import dagster as dg

from ..check_results import check_result
from ..partitions import species_partitions
from .resources import TrainingSettings

COST_FILE = "cost.json"   # written beside the adapter by the SageMaker backend (backends/sagemaker.py)


def _metrics(training: TrainingSettings, asset: str, species: str) -> dict:
    path = training.layout().adapter(asset, species) / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _gain_severity(result: dg.AssetCheckResult, training: TrainingSettings) -> dg.AssetCheckResult:
    """Gain checks block unless the profile says to report them only (the tiny local models)."""
    if training.reward_check_severity == "warn":
        text = result.metadata["result"].value if hasattr(result.metadata["result"], "value") else result.metadata["result"]
        note = "" if result.passed else " (severity WARN in this profile: reported, it does not stop the later steps)"
        others = {k: v for k, v in result.metadata.items() if k != "result"}
        return check_result(result.passed, f"{text}{note}", warn=True, **others)
    return result


def cost_check_result(path: Path) -> dg.AssetCheckResult:
    """The cost check's verdict from the ``cost.json`` beside an adapter (none: the local backend)."""
    if not path.is_file():
        return check_result(True, "trained on the local backend: no cloud cost")
    cost = json.loads(path.read_text(encoding="utf-8"))
    budget = cost.get("budget_usd")
    ok = not cost.get("over_budget")
    return check_result(ok, f"${cost['cost_usd']:.2f} for {cost['billable_seconds']} billable s "
                            f"({cost['instance_count']} x {cost['instance_type']}, spot savings "
                            f"{cost['spot_savings_pct']}%), budget {'none' if budget is None else f'${budget:.2f}'}",
                        warn=True, cost_usd=float(cost["cost_usd"]), budget_usd=float(budget if budget is not None else -1.0))


def health_checks(asset: str, prefix: str, kl: bool = True, tier: str = "bronze") -> list:
    """Finite training, bounded KL (GRPO stages) and a loadable adapter, for one adapter asset."""
    common = dict(partitions_def=species_partitions, asset=asset, blocking=True)

    @dg.asset_check(**common, name=f"{prefix}_training_finite",
                    description="Training finished and every logged loss is finite.")
    def training_finite(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
        m = _metrics(training, asset, context.partition_key)
        losses = [h.get("loss") for h in m["history"] if h.get("loss") is not None]
        bad = [x for x in losses if not math.isfinite(x)]
        ok = m["status"] == "completed" and bool(losses) and not bad
        return check_result(ok, f"status {m['status']}, {len(losses)} losses logged, {len(bad)} not finite",
                       steps=m["global_step"])

    @dg.asset_check(**common, name=f"{prefix}_kl_bounded",
                    description="KL to the reference model stayed within the bound throughout training "
                                "(mean of every window of consecutive steps; see grpo.kl_control.KL_WINDOW).")
    def kl_bounded(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
        m = _metrics(training, asset, context.partition_key)
        kl = m.get("kl_window_max")
        ok = kl is not None and kl <= training.kl_bound
        return check_result(ok, f"KL to the {m.get('kl_reference', 'base_model')}: max {m.get('kl_window')}-step mean {kl}, "
                           f"max single step {m.get('kl_max')} (bound {training.kl_bound})",
                       kl_window_max=kl if kl is not None else -1.0,
                       kl_max=m["kl_max"] if m.get("kl_max") is not None else -1.0)

    @dg.asset_check(**common, name=f"{prefix}_adapter_loads",
                    description="The adapter loads through PEFT on its base model and generates.")
    def adapter_loads(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
        import torch
        from peft import PeftModel

        from ...training.base_models import load_base_model

        model, tokenizer = load_base_model(training.base_model(tier))
        path = training.layout().adapter(asset, context.partition_key)
        peft_model = PeftModel.from_pretrained(model, str(path))
        ids = tokenizer("<think>", return_tensors="pt").input_ids
        with torch.no_grad():
            out = peft_model.generate(ids, max_new_tokens=4, do_sample=False)
        files = sorted(p.name for p in Path(path).iterdir())
        return check_result(out.shape[1] > ids.shape[1] and "adapter_config.json" in files,
                       f"loaded from {path}; files {files}")

    @dg.asset_check(partitions_def=species_partitions, asset=asset, blocking=False, name=f"{prefix}_cost_within_budget",
                    description="A SageMaker job's actual cost (billable seconds x instances x the profile's price) "
                                "stayed within its tier's per-job budget (WARN: the money is spent; the adapter is fine).")
    def cost_within_budget(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
        return cost_check_result(training.layout().adapter(asset, context.partition_key) / COST_FILE)

    checks = [training_finite, kl_bounded, adapter_loads] if kl else [training_finite, adapter_loads]
    return [*checks, cost_within_budget]


@dg.asset_check(partitions_def=species_partitions, asset="srl_adapter", blocking=True,
                description="Validation SRL reward beats the base model's by the configured margin.")
def srl_reward_above_base(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
    m = _metrics(training, "srl_adapter", context.partition_key)
    base, trained = m.get("validation_reward_base"), m.get("validation_reward_trained")
    ok = base is not None and trained is not None and trained >= base + training.min_reward_gain
    return _gain_severity(check_result(
        ok, f"validation SRL reward: base {base}, SRL {trained} (margin {training.min_reward_gain})",
        validation_reward_base=base if base is not None else -1.0,
        validation_reward_trained=trained if trained is not None else -1.0), training)


@dg.asset_check(partitions_def=species_partitions, asset="rlvr_adapter", blocking=True,
                description="Validation plan success after RLVR is not below the SRL model's (within the tolerance).")
def rlvr_success_not_below_srl(context: dg.AssetCheckExecutionContext,
                               training: TrainingSettings) -> dg.AssetCheckResult:
    m = _metrics(training, "rlvr_adapter", context.partition_key)
    before, after = m.get("validation_success_reference"), m.get("validation_success_trained")
    ok = before is not None and after is not None and after >= before - training.rlvr_success_tolerance
    return _gain_severity(check_result(
        ok, f"validation plan success: SRL {before}, SRL->RLVR {after} (tolerance {training.rlvr_success_tolerance})",
        validation_success_srl=before if before is not None else -1.0,
        validation_success_rlvr=after if after is not None else -1.0), training)


TRAINING_CHECKS = [*health_checks("srl_adapter", "srl"), srl_reward_above_base,
                   *health_checks("rlvr_adapter", "rlvr"), rlvr_success_not_below_srl]
