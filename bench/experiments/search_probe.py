"""Probe: how many verified wins does a sampled search find on the train scenarios? (RLVR's wins
buffer, training/win_replay.py.) K plans per train scenario from a model (base, or base + adapter),
free or menu-constrained sampling at a temperature; prints plays, wins, scenarios won and seconds.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/search_probe.py <artifacts> <species> <adapter|-> K T [menu|free]
"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.plan_rollout import PlanTask, rollout_plans
from srl_pipeline.training.win_replay import WinsBuffer

A, sp, adapter, K, T = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
menu = (sys.argv[6] if len(sys.argv) > 6 else "menu") == "menu"
data = json.loads((A / "srl_dataset" / f"{sp}.json").read_text())
rs = ruleset_from_artifact(data["rules"])
train = [PlanTask.from_record(r, rs) for r in data["plan_tasks"] if r["split"] == "train"]
model, tok = load_model(str(A / "base_models" / "bronze"), None if adapter == "-" else adapter, "cpu")
torch.manual_seed(0)
t0 = time.time()
plays = rollout_plans(model, tok, train, rs, samples=K, do_sample=True, temperature=T, top_p=0.9, max_new_tokens=96,
                      max_steps=8, batch_size=64, menu_constrained=menu)
buf = WinsBuffer(); buf.add(plays)
from collections import Counter
print(json.dumps({"species": sp, "adapter": adapter, "K": K, "T": T, "menu": menu, "train_tasks": len(train),
                  "plays": len(plays), "wins": sum(p.success for p in plays), "distinct_wins": len(buf),
                  "scenarios_won": buf.scenarios(), "outcomes": Counter(p.outcome for p in plays),
                  "seconds": round(time.time() - t0, 1)}), flush=True)
