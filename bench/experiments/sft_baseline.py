"""The SFT baseline as the pipeline trains it (local profile, validation selection every 10) for N steps: the shipped adapter's test metrics.

  PYTHONPATH=. python bench/experiments/sft_baseline.py <species> <steps>
(the copy800 base from build_base.py and the species' data from build_data.py)
"""
import json, sys, time, shutil
from pathlib import Path
import torch
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_exp as R
from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.job_spec import TrainingJobSpec
from srl_pipeline.training.plan_rollout import PlanTask
from srl_pipeline.training.sft_trainer import run_sft
sp, steps = sys.argv[1], int(sys.argv[2])
ROOT = Path(__file__).resolve().parents[2]; base = str(ROOT / "artifacts/base_exp/copy800/bronze")
dataset = ROOT / f"artifacts/srl_dataset/{sp}.json"
data = json.loads(dataset.read_text()); ruleset = ruleset_from_artifact(data["rules"])
test = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
stepx = [e for e in data["examples"] if e["split"] == "test"][:32]
out = ROOT / (f"artifacts/exp/sftsel{steps}/{sp}"); shutil.rmtree(out, ignore_errors=True)
reference, _ = load_model(base, None, device="cpu")
spec = TrainingJobSpec("sft", sp, "bronze", base, str(dataset), str(out / "a"), str(out / "c"),
                       hyperparameters={"profile": "local", "torch_threads": 1}, max_steps=steps, seed=0, checkpoint_every_steps=5)
t = time.time(); m = run_sft(spec); tr = time.time() - t
r = R.evaluate(base, str(out / "a"), test, ruleset, reference, stepx)
print(json.dumps({"sp": sp, "steps": steps, "train_s": round(tr, 1), "selection": m.get("selection"),
                  "test": {k: r[k] for k in ("success_greedy", "decision_accuracy", "kl_to_base")}}), flush=True)
