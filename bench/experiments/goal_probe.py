"""Does the model's state at the decision encode the goal? A linear probe.

For every SRL example of a species (all splits), the prompt is followed by the warm-up's think up to
its decision (``<think>I am a <species>. I can <menu actions>. I will``); the last layer's hidden
state at that token is read, and a logistic regression predicts from it (5-fold, folds by
scenario) the example's goal, the expert's action and, as a control the base must read, one state
variable. Chance is the share of the most common label.

scikit-learn comes with the project's dependencies (mlflow requires it).

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/goal_probe.py --species lich \
      --base artifacts/base_exp/b800/bronze [--adapter DIR]
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.game.steps import parse_step
from srl_pipeline.game.turn import menu_actions, observed_state
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.warmup_corpus import thought

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def features(model, tok, texts: list[str], batch: int = 16) -> np.ndarray:
    out = []
    tok.padding_side = "left"
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)   # each row at its own positions
        with torch.no_grad():
            h = model(**enc, position_ids=positions, output_hidden_states=True).hidden_states[-1][:, -1]
        out.append(h.float().numpy())
    return np.concatenate(out)


def probe(x: np.ndarray, y: list[str], groups: list[str], train_sizes=(25, 50, 100, 200)) -> dict:
    """Cross-validated accuracy (folds by scenario), with all training rows and with fewer."""
    counts = Counter(y)
    keep = [i for i, v in enumerate(y) if counts[v] >= 5]   # labels too rare to be split are left out
    x, y, groups = x[keep], np.array([y[i] for i in keep]), [groups[i] for i in keep]
    folds = list(GroupKFold(n_splits=5).split(x, y, groups))
    rng = np.random.default_rng(0)
    curve = {}
    for size in (*train_sizes, None):
        accs = []
        for train, test in folds:
            if size is not None:
                if size >= len(train):
                    continue
                train = rng.choice(train, size, replace=False)
            if len(set(y[train])) < 2:
                continue
            clf = LogisticRegression(max_iter=2000, C=1.0).fit(x[train], y[train])
            accs.append(clf.score(x[test], y[test]))
        if accs:
            curve["all" if size is None else size] = round(float(np.mean(accs)), 3)
    return {"accuracy": curve.pop("all"), "by_train_rows": curve,
            "chance": round(max(Counter(y.tolist()).values()) / len(y), 3), "labels": len(set(y.tolist())), "n": len(y)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--state-var", default="location")
    a = ap.parse_args()
    data = json.loads((ROOT / "artifacts" / "srl_dataset" / f"{a.species}.json").read_text())
    model, tok = load_model(a.base, a.adapter, device="cpu")
    ruleset = ruleset_from_artifact(data["rules"])
    rows = data["examples"]
    texts, goals, actions, states, groups = [], [], [], [], []
    for e in rows:
        think = thought(a.species, menu_actions(e["prompt"]), "").rstrip(".")
        texts.append(f"{e['prompt']}\n<think>{think.rstrip()}")
        goals.append(e["goal"])
        actions.append(parse_step(e["target"]).action)
        states.append(str((observed_state(e["prompt"], ruleset) or {}).get(a.state_var)))
        groups.append(e["scenario_id"])
    x = features(model, tok, texts)
    print(json.dumps({"species": a.species, "adapter": a.adapter, "examples": len(rows),
                      "goal": probe(x, goals, groups), "expert_action": probe(x, actions, groups),
                      a.state_var: probe(x, states, groups)}))


if __name__ == "__main__":
    main()
