"""SFT (LoRA, local profile) learning curve on the test split: how far supervised steps go on this base.

  PYTHONPATH=. python bench/experiments/sft_curve.py <species> <steps> <every> ['<hp json>'] [tag]
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
sp, steps, every, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4] if len(sys.argv) > 4 else "{}")
tag = sys.argv[5] if len(sys.argv) > 5 else "sft"
ROOT = Path(__file__).resolve().parents[2]; base = str(ROOT / "artifacts/base_exp/copy800/bronze")
dataset = ROOT / f"artifacts/srl_dataset/{sp}.json"
data = json.loads(dataset.read_text()); ruleset = ruleset_from_artifact(data["rules"])
test = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
stepx = [e for e in data["examples"] if e["split"] == "test"][:64]
out = ROOT / (f"artifacts/exp/{tag}/{sp}"); shutil.rmtree(out, ignore_errors=True)
reference, _ = load_model(base, None, device="cpu")
spec = TrainingJobSpec("sft", sp, "bronze", base, str(dataset), str(out / "a"), str(out / "c"),
                       hyperparameters={"profile": "local", "torch_threads": 1, "select_every": 0, **extra},
                       max_steps=steps, seed=0, checkpoint_every_steps=every, keep_checkpoints=1000)
t = time.time(); m = run_sft(spec); tr = time.time() - t
pts = []
for ck in sorted((out / "c").glob("ckpt-*"), key=lambda p: int(p.name.split("-")[1])):
    r = R.evaluate(base, str(ck), test, ruleset, reference, stepx)
    pts.append((int(ck.name.split("-")[1]), r["success_greedy"], r["decision_accuracy"], round(r["kl_to_base"] or 0, 3)))
    print("curve", pts[-1], flush=True)
print(json.dumps({"sp": sp, "tag": tag, "train_s": round(tr, 1), "curve": pts, "extra": extra}), flush=True)
