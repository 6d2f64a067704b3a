"""SRL trainer throughput vs plain TRL GRPOTrainer, and the extra generation cost of dynamic sampling.

    python bench/srl_trainer_throughput.py [--steps 40] [--repeats 5] [--model PATH] [--dataset PATH]
                                           [--reward mixed|srl] [--threads 1]

1. **Overhead** (dynamic sampling off): the same tiny model, data, batch, seed and GRPO settings
   (LoRA, beta > 0, group z-score, clip 0.2) trained for ``--steps`` steps by plain
   ``trl.GRPOTrainer`` and by ``SRLTrainer(dynamic_sampling=False)`` (with its KL controller, history
   and per-step bookkeeping). Runs alternate (plain, SRL, plain, SRL, ...) ``--repeats`` times in this
   one process; the median time of each is compared. Target: SRL/plain throughput >= 0.9.
2. **Dynamic sampling on**: the same run with dynamic sampling; reports the filter rate, the extra
   completions generated per step, completions generated per kept group (G when nothing is
   dropped) and the wall-time cost relative to dynamic sampling off.

By default the model is a randomly initialised tiny Qwen2 (hidden 64, 2 layers, BPE tokenizer
trained here) and the reward is ``mixed``: half the prompts get a constant reward (their groups
have std 0, so dynamic sampling must drop them), the other half a reward that varies with the
completion. ``--model`` (e.g. the built-in Bronze base model) with ``--dataset`` (an SRL dataset
artifact) and ``--reward srl`` measures the real thing instead. Exit status 1 when the overhead
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402
from trl import GRPOTrainer  # noqa: E402

from srl_pipeline.training.grpo.kl_control import AdaptiveKLController  # noqa: E402
from srl_pipeline.training.job_runner import lora_config  # noqa: E402
from srl_pipeline.training.job_spec import TrainingJobSpec  # noqa: E402
from srl_pipeline.training.rewards import srl  # noqa: E402
from srl_pipeline.training.srl_config import SRLHyperparameters, build_grpo_config  # noqa: E402
from srl_pipeline.training.srl_trainer import SRLTrainer, load_srl_examples  # noqa: E402
from srl_pipeline_tests.tiny_models import STEP, build_tiny_model, flat_or_varied  # noqa: E402

mixed = flat_or_varied  # constant reward for prompts starting with 'flat' (zero-std groups), varied otherwise

TARGET = 0.9


def make_rows(dataset: str | None) -> list[dict]:
    if dataset:
        return [{"prompt": e["prompt"], "target": e["target"]} for e in load_srl_examples(dataset)
                if e["split"] == "train"]
    rows = []
    for i in range(32):
        kind = "flat" if i % 2 else "live"
        rows.append({"prompt": f"{kind} {i}: the vampire meets a mortal.\nSteps so far:\n(none yet)\n",
                     "target": STEP.format(n=1, i=i)})
    return rows


def run_once(kind: str, model_dir: Path, rows: list[dict], reward, hp: SRLHyperparameters, steps: int,
             workdir: Path) -> dict:
    spec = TrainingJobSpec(stage="srl", species="bench", tier="bench", base_model=str(model_dir), dataset="-",
                           output_dir=str(workdir / "out"), checkpoint_dir=str(workdir / f"ckpt-{kind}"),
                           max_steps=steps, seed=0)
    args = build_grpo_config(spec, hp)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = Dataset.from_list(rows)
    common = dict(model=model, reward_funcs=reward, args=args, train_dataset=ds, processing_class=tok,
                  peft_config=lora_config(hp))
    if kind == "plain":
        trainer = GRPOTrainer(**common)
    else:
        trainer = SRLTrainer(**common, dynamic_sampling=(kind == "srl_ds"),
                             dynamic_sampling_epsilon=hp.dynamic_sampling_epsilon,
                             max_extra_generation_rounds=hp.max_extra_generation_rounds,
                             kl_controller=AdaptiveKLController(hp.beta, hp.kl_target),
                             # the same generation work as plain GRPO (the stop after the step line
                             # shortens completions and would flatter the ratio)
                             stop_after_step=False)
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    out = {"kind": kind, "seconds": seconds, "steps": trainer.state.global_step,
           "tokens": trainer.state.num_input_tokens_seen}
    out["steps_per_s"] = out["steps"] / seconds
    out["tokens_per_s"] = out["tokens"] / seconds
    if isinstance(trainer, SRLTrainer):
        out["dynamic"] = dict(trainer.dynamic_totals)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="steps per timed run (long enough for a stable ratio)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", help="HF model dir (default: a random tiny Qwen2 built here)")
    ap.add_argument("--dataset", help="SRL dataset artifact JSON (default: synthetic prompts)")
    ap.add_argument("--reward", choices=("mixed", "srl"), default="mixed")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    hp = SRLHyperparameters(max_completion_length=16, num_generations=4, batch_prompts=4, micro_batch_size=16,
                            learning_rate=1e-4, beta=0.04, max_extra_generation_rounds=3)
    reward = mixed if a.reward == "mixed" else srl
    with tempfile.TemporaryDirectory(prefix="srl-bench-") as tmp:
        work = Path(tmp)
        model_dir = Path(a.model) if a.model else build_tiny_model(work / "model")
        rows = make_rows(a.dataset)
        print(f"model {model_dir if a.model else 'tiny random Qwen2 (hidden 64, 2 layers)'}; {len(rows)} prompts; "
              f"reward {a.reward}; {a.steps} steps x {hp.batch_prompts} prompts x {hp.num_generations} generations; "
              f"max_completion_length {hp.max_completion_length}; torch threads {a.threads}")
        run_once("plain", model_dir, rows, reward, hp, 1, work)  # warm-up (lazy imports, allocator)
        runs: dict[str, list[dict]] = {"plain": [], "srl": []}
        for _ in range(a.repeats):
            for kind in ("plain", "srl"):
                runs[kind].append(run_once(kind, model_dir, rows, reward, hp, a.steps, work))
        ds_on = [run_once("srl_ds", model_dir, rows, reward, hp, a.steps, work) for _ in range(max(1, a.repeats // 2))]

    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    tokens = {k: v[0]["tokens"] for k, v in runs.items()}
    ratio = med["plain"] / med["srl"]
    pairs = [p["seconds"] / s["seconds"] for p, s in zip(runs["plain"], runs["srl"])]  # one ratio per repeat
    print("\n1. overhead, dynamic sampling off (median of %d alternating runs)" % a.repeats)
    for k in ("plain", "srl"):
        name = "trl.GRPOTrainer" if k == "plain" else "SRLTrainer(dynamic_sampling=False)"
        print(f"   {name:38s} {med[k]:7.3f} s  {a.steps / med[k]:6.2f} steps/s  {tokens[k] / med[k]:9.0f} tokens/s")
    same = tokens["plain"] == tokens["srl"]
    print(f"   throughput ratio SRL/plain: {ratio:.3f} (target >= {TARGET}) "
          f"{'OK' if ratio >= TARGET else 'MISSED'}; identical token counts: {same}")
    print(f"   per-repeat ratios: {', '.join(f'{r:.3f}' for r in pairs)} (spread {max(pairs) - min(pairs):.3f})")

    d = ds_on[0]["dynamic"]
    G = hp.num_generations
    ds_sec = statistics.median(r["seconds"] for r in ds_on)
    filter_rate = d["dropped_groups"] / max(1, d["scored_groups"])
    per_kept = d["scored_groups"] * G / d["kept_groups"] if d["kept_groups"] else float("inf")
    cost = d["extra_generations"] / max(1, d["base_generations"])
    print("\n2. dynamic sampling on")
    print(f"   filter rate (dropped / scored groups)      {filter_rate:.3f}")
    print(f"   extra completions per step                 {d['extra_generations'] / d['steps']:.1f} "
          f"(base batch {hp.batch_prompts * G})")
    print(f"   extra generation cost (extra / base)       {cost:.3f}")
    print(f"   completions generated per kept group       {per_kept:.2f} (G = {G} when nothing is dropped)")
    print(f"   groups padded by re-use (cap hit)          {d['padded_groups']}")
    print(f"   wall time vs dynamic sampling off          {ds_sec / med['srl']:.2f}x")
    figures = {"ratio": ratio, "ratios": pairs, "target": TARGET, "plain_s": med["plain"], "srl_s": med["srl"],
               "plain_tokens_per_s": tokens["plain"] / med["plain"], "srl_tokens_per_s": tokens["srl"] / med["srl"],
               "filter_rate": filter_rate, "extra_generation_cost": cost, "generations_per_kept_group": per_kept,
               "padded_groups": d["padded_groups"], "ds_time_factor": ds_sec / med["srl"]}
    if a.json:
        print(json.dumps(figures))
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
