"""Does the step's call play the move the think names? Greedy turns on 48 test-split SRL examples:
the share whose think's "I will X" equals the call's action, and how often each is the expert's.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/think_call.py --species zombie \
      [--base artifacts/base_exp/b800/bronze] [--adapter DIR]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch

from srl_pipeline.game.steps import StepFormatError, parse_step
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.generation import generate_steps
from srl_pipeline.training.rewards.srl_step import extract_step

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
THINK_MOVE = re.compile(r"I will ([a-z_]+)")   # the warm-up's think (warmup_corpus.THOUGHT) ends with the move


def call_move(completion: str) -> str | None:
    """The action of the step the completion writes, or None when its format is broken."""
    step = extract_step(completion)
    try:
        return parse_step(step).action if step else None
    except StepFormatError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--base", default=str(ROOT / "artifacts" / "base_exp" / "b800" / "bronze"))
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--examples", type=int, default=48)
    a = ap.parse_args()
    data = json.loads((ROOT / "artifacts" / "srl_dataset" / f"{a.species}.json").read_text())
    examples = [e for e in data["examples"] if e["split"] == "test"][:a.examples]
    model, tok = load_model(a.base, a.adapter, device="cpu")
    outs = generate_steps(model, tok, [e["prompt"] for e in examples], max_new_tokens=128, batch_size=16, chat=False)
    parsed = same = think_right = call_right = 0
    for e, (text, _) in zip(examples, outs):
        think, call = THINK_MOVE.search(text), call_move(text)
        if not (think and call):
            continue
        expert = parse_step(e["target"]).action
        parsed += 1
        same += think.group(1) == call
        think_right += think.group(1) == expert
        call_right += call == expert
    share = (lambda k: round(k / parsed, 3)) if parsed else (lambda k: None)
    print(json.dumps({"species": a.species, "adapter": a.adapter, "parsed": parsed, "of": len(examples),
                      "think_equals_call": share(same), "think_is_expert": share(think_right),
                      "call_is_expert": share(call_right)}))


if __name__ == "__main__":
    main()
