"""Build only the Bronze built-in base with a given number of warm-up steps into artifacts/base_exp/<name>/bronze.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/build_base.py --steps 800 --name w800 [--settings '{"skip_history": true}']
"""
import argparse
import json
import time
from pathlib import Path

from srl_pipeline.training.base_models import BUILTIN_TIERS, WarmupSettings, build_builtin_base_models

ROOT = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=800)
ap.add_argument("--name", required=True)
ap.add_argument("--tier", default="bronze")
ap.add_argument("--settings", default="{}", help="WarmupSettings overrides (JSON)")
a = ap.parse_args()
t = time.time()
infos = build_builtin_base_models(ROOT / "configs" / "game", ROOT / "artifacts" / "base_exp" / a.name,
                                  tiers={a.tier: BUILTIN_TIERS[a.tier]}, seed=0, warmup_steps=a.steps,
                                  settings=WarmupSettings(**json.loads(a.settings)))
print(json.dumps({"name": a.name, "steps": a.steps, "seconds": round(time.time() - t, 1),
                  "loss": infos[a.tier].warmup_loss}))
