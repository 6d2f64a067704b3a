"""How far the SFT baseline's supervised steps go on this base (greedy test split).

  PYTHONPATH=. python bench/experiments/sft_curve.py --species lich --steps 200 --every 50
      a checkpoint every 50 steps, no selection, each evaluated (success, decision accuracy, KL to base)
  PYTHONPATH=. python bench/experiments/sft_curve.py --species lich --steps 60 --pipeline
      the pipeline's SFT job (local profile, validation selection) and its shipped adapter

Needs the copy800 base (build_base.py) and the species' data (build_data.py).
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_exp as R  # noqa: E402
from srl_pipeline.game.rules import ruleset_from_artifact  # noqa: E402
from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.job_spec import TrainingJobSpec  # noqa: E402
from srl_pipeline.training.plan_rollout import PlanTask  # noqa: E402
from srl_pipeline.training.sft_trainer import run_sft  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

ap = argparse.ArgumentParser()
ap.add_argument("--species", required=True)
ap.add_argument("--steps", type=int, required=True)
ap.add_argument("--every", type=int, default=50)
ap.add_argument("--pipeline", action="store_true", help="the pipeline's selection; evaluate the shipped adapter only")
ap.add_argument("--hp", default="{}")
a = ap.parse_args()
base = str(ROOT / "artifacts/base_exp/copy800/bronze")
dataset = ROOT / f"artifacts/srl_dataset/{a.species}.json"
data = json.loads(dataset.read_text())
ruleset = ruleset_from_artifact(data["rules"])
test = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
steps = [e for e in data["examples"] if e["split"] == "test"][:64 if not a.pipeline else 32]
out = ROOT / "artifacts" / "exp" / (f"sft-pipeline{a.steps}" if a.pipeline else "sft-curve") / a.species
shutil.rmtree(out, ignore_errors=True)
reference, _ = load_model(base, None, device="cpu")
hp = {"profile": "local", "torch_threads": 1, **({} if a.pipeline else {"select_every": 0}), **json.loads(a.hp)}
spec = TrainingJobSpec("sft", a.species, "bronze", base, str(dataset), str(out / "a"), str(out / "c"), hyperparameters=hp,
                       max_steps=a.steps, seed=0, checkpoint_every_steps=5 if a.pipeline else a.every,
                       keep_checkpoints=2 if a.pipeline else 1000)
t = time.time()
m = run_sft(spec)
rec = {"species": a.species, "steps": a.steps, "train_s": round(time.time() - t, 1), "hp": hp}
if a.pipeline:
    r = R.evaluate(base, str(out / "a"), test, ruleset, reference, steps)
    rec.update(selection=m.get("selection"), test={k: r[k] for k in ("success_greedy", "decision_accuracy", "kl_to_base")})
else:
    rec["curve"] = []
    for ck in sorted((out / "c").glob("ckpt-*"), key=lambda p: int(p.name.split("-")[1])):
        r = R.evaluate(base, str(ck), test, ruleset, reference, steps)
        rec["curve"].append((int(ck.name.split("-")[1]), r["success_greedy"], r["decision_accuracy"], r["kl_to_base"]))
        print("curve", rec["curve"][-1], flush=True)
print(json.dumps(rec), flush=True)
