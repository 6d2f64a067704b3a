"""Where an adapter's KL to its base goes inside a turn: the exact per-token KL over the greedy test
turns of a built species, split by the part of the completion each token sits in (the think, the
step's title, its call, its line).

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/kl_by_segment.py --species vampire \
      --adapter artifacts/exp/<tag>/vampire/srl [--base artifacts/base_models/bronze]
"""
from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

import torch

from srl_pipeline.evaluation.kl import turn_kls
from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.plan_rollout import PlanTask, rollout_plans

ROOT = Path(__file__).resolve().parents[2]
ART = Path(os.environ.get("SRL_EXP_ARTIFACTS", ROOT / "artifacts"))
SEGMENTS = ("think", "title", "call", "line")


def segment_of(text: str) -> str:
    """The part of a completion that ``text`` (the completion up to and including a token) ends in:
    ``<think>...</think>``, then ``1. **Title** call(args) | "line"``; the ``|`` after the call
    opens the line."""
    think = text.find("</think>")
    if think < 0:
        return "think"
    title_open = text.find("**", think)
    title_close = text.find("**", title_open + 2) if title_open >= 0 else -1
    if title_close < 0:
        return "title"
    call_close = text.find(")", title_close + 2)
    return "line" if call_close >= 0 and text.find("|", call_close) >= 0 else "call"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--base", default=str(ART / "base_models" / "bronze"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    data = json.loads((ART / "srl_dataset" / f"{a.species}.json").read_text())
    ruleset = ruleset_from_artifact(data["rules"])
    tasks = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
    model, tok = load_model(a.base, a.adapter, device="cpu")
    base, _ = load_model(a.base, None, device="cpu")
    plays = rollout_plans(model, tok, tasks, ruleset, samples=1, do_sample=False, batch_size=32)
    kl_sum: dict[str, float] = defaultdict(float)
    tokens: dict[str, int] = defaultdict(int)
    for turn, kl in turn_kls(model, base, tok, plays):
        ids = list(turn.completion_ids)
        for i, value in enumerate(kl.tolist()):
            part = segment_of(tok.decode(ids[:i + 1], skip_special_tokens=False))
            kl_sum[part] += value
            tokens[part] += 1
    total_kl, total_tokens = sum(kl_sum.values()), sum(tokens.values())
    print(f"{a.species}: mean KL per token {total_kl / max(1, total_tokens):.4f} over {total_tokens} completion tokens")
    print(f"{'segment':8s} {'tokens':>8s} {'share of tokens':>16s} {'share of KL':>12s} {'KL per token':>13s}")
    for part in SEGMENTS:
        n = tokens.get(part, 0)
        if n:
            print(f"{part:8s} {n:8d} {100 * n / total_tokens:15.1f}% {100 * kl_sum[part] / total_kl:11.1f}% "
                  f"{kl_sum[part] / n:13.4f}")


if __name__ == "__main__":
    main()
