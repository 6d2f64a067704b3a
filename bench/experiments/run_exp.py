"""One SRL -> RLVR experiment on a built species (artifacts/srl_dataset/<species>.json and the
built Bronze base): train with the trainers' own entry functions, then greedy full-plan success on
the test split (and validation) with the KL to the base. Appends one JSON line to
bench/experiments/results.jsonl.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/run_exp.py --species vampire --tag t1 \
      --srl-steps 32 --rlvr-steps 10 --srl-hp '{"reward": "decision"}'
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from srl_pipeline.game.rules import ruleset_from_artifact  # noqa: E402
from srl_pipeline.evaluation.evaluate import EvalSettings, evaluate_model  # noqa: E402
from srl_pipeline.training.base_models import load_model  # noqa: E402
from srl_pipeline.training.job_spec import TrainingJobSpec  # noqa: E402
from srl_pipeline.training.plan_rollout import PlanTask  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ART = Path(os.environ.get("SRL_EXP_ARTIFACTS", ROOT / "artifacts"))   # another run's artifacts


MENU_CONSTRAINED = [False]


def evaluate(base: str, adapter: str | None, tasks, ruleset, reference, steps) -> dict:
    """Greedy test metrics; with --menu-constrained also under menu-constrained decoding (``menu``)."""
    model, tok = load_model(base, adapter, device="cpu")
    out = {}
    for constrained in (False, True) if MENU_CONSTRAINED[0] else (False,):
        r = evaluate_model(model, tok, tasks, ruleset, steps, EvalSettings(k=0, step_examples=len(steps), batch_size=32,
                                                                           menu_constrained=constrained),
                           reference=reference if adapter else None)
        r = _keep(r)
        if constrained:
            out["menu"] = r
        else:
            out.update(r)
    return out


def _keep(r: dict) -> dict:
    return {k: r.get(k) for k in ("success_greedy", "decision_accuracy", "format_error_rate", "kl_to_base", "outcomes", "step_similarity",
                                  "srl_reward", "repeated_line_rate")}


def curve(base: str, ckpt_root: Path, tasks, ruleset, reference, steps) -> list:
    """(step, greedy test success, step similarity) for every checkpoint of a run."""
    points = []
    for ck in sorted(ckpt_root.glob("ckpt-*"), key=lambda p: int(p.name.split("-")[1])):
        r = evaluate(base, str(ck), tasks, ruleset, None, steps)
        points.append((int(ck.name.split("-")[1]), r["success_greedy"], r["decision_accuracy"]))
        print("curve", ck.name, points[-1], flush=True)
    return points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--srl-steps", type=int, default=32)
    ap.add_argument("--rlvr-steps", type=int, default=10)
    ap.add_argument("--srl-hp", default="{}")
    ap.add_argument("--rlvr-hp", default="{}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", default=str(ART / "base_models" / "bronze"))
    ap.add_argument("--eval-base", action="store_true")
    ap.add_argument("--step-examples", type=int, default=16)
    ap.add_argument("--init-adapter", default=None, help="RLVR from this SRL adapter (with --srl-steps 0)")
    ap.add_argument("--menu-constrained", action="store_true", help="also evaluate with menu-constrained decoding")
    ap.add_argument("--curve-every", type=int, default=0, help="checkpoint every N steps and evaluate each (a learning curve)")
    a = ap.parse_args()
    MENU_CONSTRAINED[0] = a.menu_constrained

    dataset = ART / "srl_dataset" / f"{a.species}.json"
    data = json.loads(dataset.read_text())
    ruleset = ruleset_from_artifact(data["rules"])
    test = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
    steps = [e for e in data["examples"] if e["split"] == "test"][: a.step_examples]
    out = ART / "exp" / a.tag / a.species
    shutil.rmtree(out, ignore_errors=True)
    reference, _ = load_model(a.base, None, device="cpu")
    rec: dict = {"species": a.species, "tag": a.tag, "seed": a.seed, "srl_steps": a.srl_steps,
                 "rlvr_steps": a.rlvr_steps, "srl_hp": json.loads(a.srl_hp), "rlvr_hp": json.loads(a.rlvr_hp),
                 "test_tasks": len(test)}
    if a.eval_base:
        t = time.time()
        rec["base"] = evaluate(a.base, None, test, ruleset, reference, steps)
        rec["base"]["eval_s"] = round(time.time() - t, 1)
        print("base", rec["base"], flush=True)

    srl_dir = a.init_adapter
    if srl_dir and a.srl_steps == 0:   # the starting adapter under this code's evaluation
        t = time.time()
        rec["start"] = evaluate(a.base, srl_dir, test, ruleset, reference, steps)
        rec["start"]["eval_s"] = round(time.time() - t, 1)
        print("start", rec["start"], flush=True)
    if a.srl_steps > 0:
        from srl_pipeline.training.srl_trainer import run_srl

        spec = TrainingJobSpec("srl", a.species, "bronze", a.base, str(dataset), str(out / "srl"), str(out / "srl_ckpt"),
                               hyperparameters={"profile": "local", "torch_threads": 1, **json.loads(a.srl_hp)},
                               max_steps=a.srl_steps, seed=a.seed, checkpoint_every_steps=a.curve_every or 10_000,
                               keep_checkpoints=1000 if a.curve_every else 2)
        t = time.time()
        m = run_srl(spec)
        rec["srl_train_s"] = round(time.time() - t, 1)
        rec["srl_metrics"] = {k: m.get(k) for k in ("status", "global_step", "validation_reward_base",
                                                     "validation_reward_trained", "kl_max", "kl_window_max",
                                                     "reward_mean_last", "filter_rate", "beta_final")}
        rec["srl_curve"] = [(h.get("step"), h.get("reward_mean"), h.get("kl")) for h in m.get("history", [])]
        srl_dir = str(out / "srl")
        if a.curve_every:
            rec["srl_test_curve"] = curve(a.base, out / "srl_ckpt", test, ruleset, reference, steps)
        t = time.time()
        rec["srl"] = evaluate(a.base, srl_dir, test, ruleset, reference, steps)
        rec["srl"]["eval_s"] = round(time.time() - t, 1)
        print("srl", rec["srl_train_s"], rec["srl_metrics"], rec["srl"], flush=True)

    if a.rlvr_steps > 0:
        from srl_pipeline.training.rlvr_trainer import run_rlvr

        spec = TrainingJobSpec("rlvr", a.species, "bronze", a.base, str(dataset), str(out / "rlvr"),
                               str(out / "rlvr_ckpt"), initial_adapter=srl_dir,
                               hyperparameters={"profile": "local", "torch_threads": 1, **json.loads(a.rlvr_hp)},
                               max_steps=a.rlvr_steps, seed=a.seed, checkpoint_every_steps=a.curve_every or 10_000,
                               keep_checkpoints=1000 if a.curve_every else 2)
        t = time.time()
        m = run_rlvr(spec)
        rec["rlvr_train_s"] = round(time.time() - t, 1)
        rec["rlvr_metrics"] = {k: m.get(k) for k in ("status", "global_step", "validation_success_reference",
                                                      "validation_success_trained", "kl_max", "kl_window_max",
                                                      "reward_mean_last", "filter_rate", "beta_final", "wins_buffer",
                                                      "wins_scenarios", "search_plays", "search_successes",
                                                      "selection")}
        rec["rlvr_curve"] = [(h.get("step"), h.get("reward_mean"), h.get("kl")) for h in m.get("history", [])]
        if a.curve_every:
            rec["rlvr_test_curve"] = curve(a.base, out / "rlvr_ckpt", test, ruleset, reference, steps)
        t = time.time()
        rec["rlvr"] = evaluate(a.base, str(out / "rlvr"), test, ruleset, reference, steps)
        rec["rlvr"]["eval_s"] = round(time.time() - t, 1)
        print("rlvr", rec["rlvr_train_s"], rec["rlvr_metrics"], rec["rlvr"], flush=True)

    with open(ROOT / "bench" / "experiments" / "results.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
