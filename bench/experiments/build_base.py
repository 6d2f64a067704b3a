"""Build only the Bronze built-in base with a given number of warm-up steps into artifacts/base_exp/<name>/bronze.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/build_base.py --steps 800 --name w800
"""
import argparse
import json
import time
from pathlib import Path

from srl_pipeline.training.base_models import BUILTIN_TIERS, build_builtin_base_models

ROOT = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=800)
ap.add_argument("--name", required=True)
a = ap.parse_args()
t = time.time()
infos = build_builtin_base_models(ROOT / "configs" / "game", ROOT / "artifacts" / "base_exp" / a.name,
                                  tiers={"bronze": BUILTIN_TIERS["bronze"]}, seed=0, warmup_steps=a.steps)
print(json.dumps({"name": a.name, "steps": a.steps, "seconds": round(time.time() - t, 1),
                  "loss": infos["bronze"].warmup_loss}))
