"""Tiny models and data for the training tests and the trainer benchmark (no downloads).

A randomly initialised Qwen2 (hidden 64, 2 layers) with a byte-level BPE tokenizer trained here on
a few hundred strings, an SRL dataset artifact of the same shape as the ``srl_dataset`` asset's,
a job spec over both, and an :class:`~srl_pipeline.training.srl_trainer.SRLTrainer` on them.
Plain functions (no pytest): ``bench/srl_trainer_throughput.py`` imports them too; the pytest
fixture is in ``srl_pipeline_tests/conftest.py``.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from srl_pipeline.training.job_spec import TrainingJobSpec

STEP = '{n}. **Show the fangs** intimidate(target=player) | "Leave, mortal {i}."'
# Prompts whose groups are flat (constant reward: dynamic sampling must drop them) or informative.
PROMPTS = [f"live {i}: the vampire meets a mortal." for i in range(6)] + [f"flat {i}: a quiet crypt." for i in range(6)]


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """A random tiny Qwen2ForCausalLM + BPE tokenizer saved with save_pretrained into ``out``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from srl_pipeline.training.base_models import build_tokenizer

    texts = [f"Scenario {i}: the vampire meets a mortal. <think>plan {i}</think>\n" + STEP.format(n=i % 5 + 1, i=i)
             for i in range(300)]
    tok = build_tokenizer(texts, vocab_size=400)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def build_formatted_tiny_model(out: Path, steps: int = 150, seed: int = 0) -> Path:
    """:func:`build_tiny_model`, then a few seconds of full fine-tuning on the SRL dataset's prompts
    followed by ``<think>...</think>`` and a step line (random numbers), so sampled completions are
    often well-formed and score differently: GRPO has advantages to learn from (the random model
    only ever scores the format penalty, and flat groups train nothing)."""
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_tiny_model(out, seed=seed)
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    rng = random.Random(seed)
    torch.manual_seed(seed)

    def text() -> str:
        return (f"Scenario {rng.randrange(15)}: the vampire meets a mortal.\nSteps so far:\n(none yet)\n"
                f"<think>plan {rng.randrange(9)}</think>\n{STEP.format(n=1, i=rng.randrange(30))}\n")

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    tok.padding_side = "right"
    model.train()
    for _ in range(steps):
        enc = tok([text() for _ in range(16)], return_tensors="pt", padding=True, add_special_tokens=False)
        model(**enc, labels=enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out, safe_serialization=True)
    return out


def write_srl_dataset(path: Path, n_train: int = 12, n_val: int = 3) -> Path:
    """An ``srl_dataset``-shaped artifact whose prompts fit the tiny model's 512 positions."""
    examples = []
    for i in range(n_train + n_val):
        split = "train" if i < n_train else "validation"
        examples.append({"id": f"s{i}:1", "scenario_id": f"s{i}", "split": split, "step": 1,
                         "prompt": f"Scenario {i}: the vampire meets a mortal.\nSteps so far:\n(none yet)\n",
                         "target": STEP.format(n=1, i=i)})
    path.write_text(json.dumps({"species": "vampire", "examples": examples}), encoding="utf-8")
    return path


def tiny_spec(tmp: Path, model_dir: Path, **overrides: Any) -> TrainingJobSpec:
    """An SRL job spec on the tiny model and dataset (the ``test`` profile, shortened further)."""
    data = dict(stage="srl", species="vampire", tier="bronze", base_model=str(model_dir),
                dataset=str(write_srl_dataset(tmp / "srl_dataset.json")), output_dir=str(tmp / "out"),
                checkpoint_dir=str(tmp / "ckpt"),
                hyperparameters={"profile": "test", "max_completion_length": 8, "validation_max_new_tokens": 8,
                                 "validation_examples": 2},
                max_steps=4, checkpoint_every_steps=2, keep_checkpoints=2)
    data.update(overrides)
    if data["stage"] == "srl":   # the tiny dataset has no rules to judge SRL's decisions by: no replay
        data["hyperparameters"] = {"replay_wins": 0, **data["hyperparameters"]}
    return TrainingJobSpec(**data)


def flat_or_varied(prompts, completions, **kwargs):
    """Reward 0.5 for every completion of a prompt starting with 'flat' (std 0), else varied."""
    return [0.5 if p.startswith("flat") else (zlib.crc32(c.encode()) % 97) / 97.0 for p, c in zip(prompts, completions)]


def make_trainer(model_dir: Path, tmp: Path, prompts: list[str], reward_func, **kwargs):
    """An SRLTrainer on the tiny model: 2 prompts x 4 generations per step, completions of 6 tokens."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback

    from srl_pipeline.training.job_runner import lora_config
    from srl_pipeline.training.srl_config import SRLHyperparameters, build_grpo_config
    from srl_pipeline.training.srl_trainer import SRLTrainer

    hp = SRLHyperparameters(**{"max_completion_length": 6, "learning_rate": 1e-3, **kwargs.pop("hp", {})})
    spec = TrainingJobSpec(stage="srl", species="vampire", tier="bronze", base_model=str(model_dir),
                           dataset="unused", output_dir=str(tmp / "out"), checkpoint_dir=str(tmp / "ckpt"),
                           max_steps=kwargs.pop("max_steps", 3), seed=kwargs.pop("seed", 0))
    args = build_grpo_config(spec, hp)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = Dataset.from_list([{"prompt": p, "target": STEP.format(n=1, i=0)} for p in prompts])
    kwargs.setdefault("dynamic_sampling", hp.dynamic_sampling)
    kwargs.setdefault("max_extra_generation_rounds", hp.max_extra_generation_rounds)
    trainer = SRLTrainer(model=model, reward_funcs=reward_func, args=args, train_dataset=ds, processing_class=tok,
                         peft_config=lora_config(hp), **kwargs)
    trainer.remove_callback(PrinterCallback)
    return trainer


def free_port() -> int:
    """A TCP port nobody listens on now (torchrun's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_entrypoint(spec_path: Path, processes: int = 1, timeout: float = 300.0):
    """``python -m srl_pipeline.training.entrypoint --spec spec_path``, under ``torchrun
    --nproc_per_node processes`` when ``processes`` > 1 (CPU, gloo); the finished process.
    On ``timeout`` (a hang) the whole process group goes, torchrun's workers included."""
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "TRL_EXPERIMENTAL_SILENCE": "1", "DISABLE_MLFLOW_INTEGRATION": "TRUE"}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    entry = ["-m", "srl_pipeline.training.entrypoint", "--spec", str(spec_path)]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *entry]
    else:
        cmd = [sys.executable, *entry]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def adapter_tensors(out_dir: Path) -> dict[str, Any]:
    """The adapter's tensors (``adapter_model.safetensors`` in a job's output directory)."""
    from safetensors.torch import load_file

    return load_file(str(Path(out_dir) / "adapter_model.safetensors"))
