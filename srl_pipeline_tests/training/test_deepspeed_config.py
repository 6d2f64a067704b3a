"""The DeepSpeed ZeRO-3 config shipped for Bronze on SageMaker (configs/training/deepspeed/zero3.json)
parses, is ZeRO-3 without offload, leaves to the HF Trainer only the values it fills ("auto"), and
the AWS profile's SRL batch divides over 2 x ml.p5.48xlarge (16 GPUs). Validated, not run:
DeepSpeed is not part of the laptop install (the `distributed` extra), so this uses accelerate's
parser of the same format."""

from __future__ import annotations

import json

from srl_pipeline.core.profiles import PROJECT_ROOT
from srl_pipeline.training.job_spec import TrainingJobSpec
from srl_pipeline.training.srl_config import SRLHyperparameters, load_srl_config

ZERO3 = PROJECT_ROOT / "configs" / "training" / "deepspeed" / "zero3.json"
# What transformers' HfTrainerDeepSpeedConfig.trainer_config_process fills from TrainingArguments.
TRAINER_FILLS = {"train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size",
                 "gradient_clipping", "bf16.enabled", "fp16.enabled"}


def autos(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from autos(value, path + ".")
        elif value == "auto":
            yield path


def test_the_zero3_config_is_valid_and_its_auto_values_are_the_trainers(tmp_path):
    from accelerate.utils.deepspeed import HfDeepSpeedConfig

    raw = json.loads(ZERO3.read_text())
    config = HfDeepSpeedConfig(str(ZERO3))
    assert config.is_zero3() and not config.is_offload()
    assert config.get_value("zero_optimization.stage3_gather_16bit_weights_on_model_save")  # a whole adapter on save
    assert set(autos(raw)) <= TRAINER_FILLS, set(autos(raw)) - TRAINER_FILLS
    hp = SRLHyperparameters.from_dict(load_srl_config("aws"))
    spec = TrainingJobSpec(stage="srl", species="zombie", tier="bronze", base_model="Qwen/Qwen2.5-7B-Instruct",
                           dataset=str(tmp_path / "d.json"), output_dir=str(tmp_path / "o"),
                           checkpoint_dir=str(tmp_path / "c"), max_steps=500)
    args = hp.trl_config(spec, world_size=16)   # raises when the batch does not divide over 16 GPUs
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps * 16 == hp.batch_prompts * hp.num_generations
    assert args.bf16   # what "bf16.enabled": "auto" becomes
