"""One process vs ``torchrun --nproc_per_node 2`` for the same training job: wall time and adapter drift.

    python bench/multiprocess_training.py [--steps 6] [--stages sft,srl] [--processes 2]
                                          [--dynamic-sampling] [--keep DIR]

For each stage the same job spec (tiny formatted model, the tiny SRL dataset, seed 0, the same
global batch: SFT 4 examples, SRL 2 prompts x 4 completions) runs through the real entrypoint
(``python -m srl_pipeline.training.entrypoint``) once in one process and once under torchrun (CPU,
gloo), and the script prints the wall time of each (process start, model load, training,
validation: the whole job), their ratio, and the max abs difference of the adapters' tensors.

What to expect: the difference is float noise (SFT 0, SRL ~1e-6: per-group seeded sampling
draws the same completions). On a CPU machine torchrun is *slower* for these tiny jobs: twice the
start-up and model loading, a gloo all-reduce per micro-step, and validation on rank 0 alone; it
pays off where each rank has its own accelerator. ``--dynamic-sampling`` turns dynamic sampling on
for SRL: when a group is dropped the replacement prompts are drawn per process, so the adapters may
then differ by more than float noise (documented, not a bug).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srl_pipeline_tests.tiny_models import (adapter_tensors, build_formatted_tiny_model, run_entrypoint,  # noqa: E402
                                            tiny_spec)


def hyperparameters(stage: str, dynamic_sampling: bool) -> dict:
    if stage == "sft":
        return {"profile": "test", "batch_size": 4, "micro_batch_size": 2, "validation_examples": 2,
                "validation_max_new_tokens": 8, "torch_threads": 1}
    return {"profile": "test", "micro_batch_size": 4, "dynamic_sampling": dynamic_sampling,
            "max_completion_length": 40, "reward": "paper", "validation_examples": 2,
            "validation_max_new_tokens": 8, "torch_threads": 1}


def run(work: Path, model: Path, stage: str, processes: int, steps: int, dynamic_sampling: bool) -> tuple[float, dict]:
    """One job; (wall seconds, metrics.json)."""
    work.mkdir(parents=True, exist_ok=True)
    spec = tiny_spec(work, model, stage=stage, max_steps=steps, checkpoint_every_steps=steps,
                     hyperparameters=hyperparameters(stage, dynamic_sampling))
    path = spec.save(work / "spec.json")
    start = time.perf_counter()
    proc = run_entrypoint(path, processes, timeout=1200)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{stage} with {processes} process(es) failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return seconds, json.loads((work / "out" / "metrics.json").read_text(encoding="utf-8"))


def _fmt(x: object) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--stages", default="sft,srl")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--dynamic-sampling", action="store_true", help="SRL with dynamic sampling on")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="srl-multiproc-"))
    try:
        t0 = time.perf_counter()
        model = build_formatted_tiny_model(root / "model")
        print(f"tiny formatted model: {time.perf_counter() - t0:.1f} s; {args.steps} steps per job; "
              f"1 vs {args.processes} processes (torchrun, CPU gloo)")
        print(f"{'stage':<6} {'1-proc s':>9} {f'{args.processes}-proc s':>9} {'ratio':>6} {'max |diff|':>11} "
              f"{'reward/loss last (1 vs N)':>28}")
        for stage in [s.strip() for s in args.stages.split(",") if s.strip()]:
            s1, m1 = run(root / f"{stage}-1", model, stage, 1, args.steps, args.dynamic_sampling)
            sn, mn = run(root / f"{stage}-{args.processes}", model, stage, args.processes, args.steps,
                         args.dynamic_sampling)
            a, b = adapter_tensors(root / f"{stage}-1" / "out"), adapter_tensors(root / f"{stage}-{args.processes}" / "out")
            diff = max(float((a[k] - b[k]).abs().max()) for k in a)
            key = "reward_mean_last" if stage != "sft" else "loss_last"
            print(f"{stage:<6} {s1:>9.1f} {sn:>9.1f} {sn / s1:>6.2f} {diff:>11.3g} "
                  f"{_fmt(m1.get(key)):>13} vs {_fmt(mn.get(key)):<13}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
