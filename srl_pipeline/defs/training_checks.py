"""Blocking health checks on trained adapters: nothing unhealthy is ever built upon."""

import json
import math
from pathlib import Path

import dagster as dg

from .game_checks import _result
from .partitions import species_partitions
from .resources import TrainingSettings
from .training_assets import adapter_dir, base_model_location

_SRL = dict(partitions_def=species_partitions, asset="srl_adapter", blocking=True)


def _metrics(training: TrainingSettings, asset: str, species: str) -> dict:
    path = adapter_dir(training, asset, species) / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8"))


@dg.asset_check(**_SRL, description="Training finished and every logged loss is finite.")
def srl_training_finite(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
    m = _metrics(training, "srl_adapter", context.partition_key)
    losses = [h.get("loss") for h in m["history"] if h.get("loss") is not None]
    bad = [x for x in losses if not math.isfinite(x)]
    ok = m["status"] == "completed" and bool(losses) and not bad
    return _result(ok, f"status {m['status']}, {len(losses)} losses logged, {len(bad)} not finite",
                   steps=m["global_step"])


@dg.asset_check(**_SRL, description="KL to the base model stayed within the bound at every step.")
def srl_kl_bounded(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
    m = _metrics(training, "srl_adapter", context.partition_key)
    kl_max = m.get("kl_max")
    ok = kl_max is not None and kl_max <= training.kl_bound
    return _result(ok, f"max KL {kl_max} (bound {training.kl_bound})", kl_max=kl_max if kl_max is not None else -1.0)


@dg.asset_check(**_SRL, description="Validation SRL reward beats the base model's by the configured margin.")
def srl_reward_above_base(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
    m = _metrics(training, "srl_adapter", context.partition_key)
    base, trained = m.get("validation_reward_base"), m.get("validation_reward_trained")
    ok = base is not None and trained is not None and trained >= base + training.min_reward_gain
    result = _result(ok, f"validation SRL reward: base {base}, SRL {trained} (margin {training.min_reward_gain})",
                     validation_reward_base=base if base is not None else -1.0,
                     validation_reward_trained=trained if trained is not None else -1.0)
    if training.reward_check_severity == "warn":
        return dg.AssetCheckResult(passed=result.passed, metadata=result.metadata, severity=dg.AssetCheckSeverity.WARN)
    return result


@dg.asset_check(**_SRL, description="The adapter loads through PEFT on its base model and generates.")
def srl_adapter_loads(context: dg.AssetCheckExecutionContext, training: TrainingSettings) -> dg.AssetCheckResult:
    import torch
    from peft import PeftModel

    from ..training.base_models import load_base_model

    model, tokenizer = load_base_model(base_model_location(training, "bronze"))
    path = adapter_dir(training, "srl_adapter", context.partition_key)
    peft_model = PeftModel.from_pretrained(model, str(path))
    ids = tokenizer("<think>", return_tensors="pt").input_ids
    with torch.no_grad():
        out = peft_model.generate(ids, max_new_tokens=4, do_sample=False)
    files = sorted(p.name for p in Path(path).iterdir())
    return _result(out.shape[1] > ids.shape[1] and "adapter_config.json" in files,
                   f"loaded from {path}; files {files}")


TRAINING_CHECKS = [srl_training_finite, srl_kl_bounded, srl_reward_above_base, srl_adapter_loads]
