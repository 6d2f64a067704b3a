"""A policy log-prob pass on RLVR-like rows, with and without gradients, and the page faults each pass
takes: where the gradient pass's extra time went (glibc handing freed memory back; core/allocator.py).

  OMP_NUM_THREADS=1 python bench/experiments/grad_pass_faults.py --artifacts <main run>/artifacts \
      --adapter rlvr_adapter [--rows 48]
  MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296 python bench/experiments/grad_pass_faults.py ...

Train-split SRL prompts with up to 100 tokens of their expert step, left-padded, micro-batches of 8; the adapter
loaded trainable, as a training job holds it. Four rounds of: forward without gradients, forward with gradients,
backward; each with its seconds, minor page faults and system seconds.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from main_run_artifacts import add_arguments, load_species_run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, "vampire")
    ap.add_argument("--rows", type=int, default=48)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    run = load_species_run(args)
    if run is None:
        return 2
    model, tok = run.trainable_model()
    model.train()
    rows = [tok(e["prompt"])["input_ids"] + tok(e["target"])["input_ids"][:100]
            for e in run.examples("train")[: args.rows]]
    width = max(map(len, rows))
    ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    print(f"{len(rows)} rows of up to {width} tokens")

    def forward(grad: bool, micro: int = 8) -> list:
        out = []
        for s in range(0, len(rows), micro):
            with torch.set_grad_enabled(grad):
                logits = model(input_ids=ids[s:s + micro], attention_mask=mask[s:s + micro], logits_to_keep=101).logits
                out.append(torch.log_softmax(logits.float(), -1))
        return out

    def measured(fn):
        before, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        value = fn()
        after = resource.getrusage(resource.RUSAGE_SELF)
        return value, f"{time.perf_counter() - t:.2f} s ({after.ru_minflt - before.ru_minflt} faults, " \
                      f"{after.ru_stime - before.ru_stime:.2f} s system)"

    for _ in range(4):
        _, plain = measured(lambda: forward(False))
        outs, grad = measured(lambda: forward(True))
        _, back = measured(lambda: sum(o.mean() for o in outs).backward())
        model.zero_grad()
        del outs
        print(f"no-grad forward {plain}   forward with gradients {grad}   backward {back}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
