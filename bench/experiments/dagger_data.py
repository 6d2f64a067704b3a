"""SRL examples at the states a model reaches itself, labelled by the solver (a DAgger-style data probe).

SRL's examples are the expert's next step after the expert's own previous steps; a play is the model's next
step after *its* previous steps. This script lets a model play the train scenarios (sampled, menu-constrained
so plays run past the first turn), and for every state its legal steps reach where the goal is still open,
adds an example whose target is the solver's next call (`game.solver.shortest_plan`) with a title and line
taken from the species' accepted train trajectories for that action. Written as a copy of the SRL dataset
artifact under another artifacts folder, for `run_exp.py` with `SRL_EXP_ARTIFACTS`:

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/dagger_data.py --species vampire \
      --base artifacts/base_exp/b800/bronze [--adapter DIR] --out artifacts/dagger [--samples 4] [--max-new 266]
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.game.simulator import Simulator
from srl_pipeline.game.solver import shortest_plan
from srl_pipeline.game.steps import Step, StepFormatError, format_step, parse_step
from srl_pipeline.game.turn import replay
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.plan_rollout import PlanTask, rollout_plans
from srl_pipeline.training.srl_dataset import approx_tokens

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--species", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--out", required=True, help="artifacts folder to write srl_dataset/<species>.json into")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-new", type=int, default=0, help="at most this many new examples (0: as many as the train split has)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    src = ROOT / "artifacts" / "srl_dataset" / f"{a.species}.json"
    data = json.loads(src.read_text())
    ruleset = ruleset_from_artifact(data["rules"])
    sim = Simulator(ruleset)
    train = [r for r in data["plan_tasks"] if r["split"] == "train"]
    tasks = [PlanTask.from_record(r, ruleset) for r in train]
    train_examples = [e for e in data["examples"] if e["split"] == "train"]
    voiced: dict[str, list[tuple[str, str]]] = {}      # action -> (title, line) of the expert's train steps
    for e in train_examples:
        s = parse_step(e["target"])
        voiced.setdefault(s.action, []).append((s.title, s.line))

    torch.manual_seed(a.seed)
    model, tok = load_model(a.base, a.adapter, device="cpu")
    plays = rollout_plans(model, tok, tasks, ruleset, samples=a.samples, do_sample=True, temperature=1.0, top_p=0.9,
                          max_steps=8, menu_constrained=True)
    rng = random.Random(f"dagger:{a.species}:{a.seed}")
    seen: set = set()
    new, unlabelled, reached = [], 0, 0
    for play in plays:
        task = tasks[play.task_index]
        sc = task.scenario
        legal = play.plan[: play.legal_steps]
        calls = [(s.action, s.args) for s in map(parse_step, legal)]
        check = sim.goal_check(sc.goal)
        for k in range(1, len(legal) + 1):        # states after the model's own first k legal steps
            prefix = legal[:k]
            key = (sc.id, tuple(calls[:k]))
            if key in seen:
                continue
            seen.add(key)
            state, _ = replay(ruleset, sc.state, prefix)
            if check.success(state, {}):
                reached += 1
                break
            plan = shortest_plan(sim, state, sc.goal)
            if plan is None or not plan.calls:
                unlabelled += 1
                continue
            call = plan.calls[0]
            options = voiced.get(call.action)
            if not options:
                unlabelled += 1
                continue
            title, line = rng.choice(options)
            try:
                target = format_step(Step(k + 1, title, call.action, tuple(call.args.items()), line))
            except StepFormatError:
                unlabelled += 1
                continue
            prompt = task.prompt(prefix)
            new.append({"id": f"{sc.id}:d{len(new)}", "scenario_id": sc.id, "species": sc.species, "split": "train",
                        "goal": sc.goal, "step": k + 1, "n_steps": k + plan.length, "prompt": prompt,
                        "target": target, "prompt_tokens": approx_tokens(prompt),
                        "target_tokens": approx_tokens(target), "rules_version": data["rules_version"],
                        "source": "solver_at_model_state"})
    cap = a.max_new or len(train_examples)
    rng.shuffle(new)
    added = new[:cap]
    out = Path(a.out) / "srl_dataset" / f"{a.species}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data | {"examples": data["examples"] + added}))
    print(json.dumps({"species": a.species, "plays": len(plays), "wins": sum(p.success for p in plays),
                      "states_labelled": len(new), "added": len(added), "unlabelled": unlabelled,
                      "goal_reached_states": reached, "train_examples": len(train_examples)}))


if __name__ == "__main__":
    main()
