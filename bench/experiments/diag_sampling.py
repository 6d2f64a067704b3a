"""How often the model's sampled answers hit the expert's decision on SRL examples (the RL signal SRL
can find): format errors, expert action, expert call, action on the menu, over G samples per example.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/diag_sampling.py <species> <base> [adapter] \
      [--split train] [--n 40] [--g 8] [--temperature 1.0] [--top-p 0.9]
"""
import argparse
import json
import re
from collections import Counter

import torch

torch.set_num_threads(1)
from srl_pipeline.game.steps import StepFormatError, parse_step  # noqa: E402
from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.rewards.srl_step import extract_step  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("species")
ap.add_argument("base")
ap.add_argument("adapter", nargs="?")
ap.add_argument("--split", default="train")
ap.add_argument("--n", type=int, default=40)
ap.add_argument("--g", type=int, default=8)
ap.add_argument("--temperature", type=float, default=1.0)
ap.add_argument("--top-p", type=float, default=0.9)
a = ap.parse_args()
data = json.load(open(f"artifacts/srl_dataset/{a.species}.json"))
examples = [e for e in data["examples"] if e["split"] == a.split][: a.n]
model, tok = load_model(a.base, a.adapter, device="cpu")
tok.padding_side = "left"
c = Counter()
acts = Counter()
menus = Counter()
groups_with_hit = 0
for e in examples:
    want = parse_step(e["target"].strip())
    menu = e["prompt"].split("\nMoves now: ", 1)[1]
    enc = tok([e["prompt"] + "\n"] * a.g, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=True, temperature=a.temperature, top_p=a.top_p, max_new_tokens=96,
                             pad_token_id=tok.pad_token_id)
    hit = False
    for seq in out:
        text = tok.decode(seq[enc["input_ids"].shape[1]:], skip_special_tokens=True)
        step = extract_step(text)
        c["samples"] += 1
        if step is None:
            c["format_error"] += 1
            continue
        try:
            got = parse_step(step)
        except StepFormatError:
            c["format_error"] += 1
            continue
        c["on_menu"] += f"{got.action}(" in menu
        acts[(got.action, f"{got.action}(" in menu)] += 1
        menus[len(set(re.findall(r"(\w+)\(", menu)))] += 1
        c["expert_action"] += got.action == want.action
        c["expert_call"] += got.action == want.action and got.args_dict == want.args_dict
        hit |= got.action == want.action and got.args_dict == want.args_dict
    groups_with_hit += hit
n = c["samples"]
print(json.dumps({"model": a.adapter or a.base, "split": a.split, "examples": len(examples), "g": a.g,
                  **{k: round(c[k] / n, 3) for k in ("format_error", "on_menu", "expert_action", "expert_call")},
                  "groups_with_expert_call": round(groups_with_hit / len(examples), 3)}))
print("sampled (action, on menu):", acts.most_common(12))
print("actions on the menu:", sorted(menus.items()))
