"""Per model (base, then each adapter): greedy test plans -> violated rules and how many answered actions were
on the turn's "Moves now:" menu.  python bench/experiments/diag_menu.py <species> <base> [adapter ...]"""
import json, sys
from collections import Counter
import torch
torch.set_num_threads(1)
from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.game.steps import parse_step
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.plan_rollout import PlanTask, rollout_plans

species, base, adapters = sys.argv[1], sys.argv[2], sys.argv[3:]
data = json.load(open(f"artifacts/srl_dataset/{species}.json"))
rs = ruleset_from_artifact(data["rules"])
tasks = [PlanTask.from_record(r, rs) for r in data["plan_tasks"] if r["split"] == "test"]
for adapter in [None] + adapters:
    model, tok = load_model(base, adapter, device="cpu")
    ros = rollout_plans(model, tok, tasks, rs, samples=1, do_sample=False, max_new_tokens=96, max_steps=8, batch_size=32)
    rules, actions, on, turns = Counter(), Counter(), 0, 0
    for ro in ros:
        rules[ro.violation.rule if ro.violation else ro.outcome] += 1
        for t in ro.turns:
            if t.step is None:
                continue
            a = parse_step(t.step.strip()).action
            menu = t.prompt.split("\nMoves now: ", 1)[1].split("\n", 1)[0]
            turns += 1
            on += f"{a}(" in menu
            actions[a] += 1
    print(json.dumps({"species": species, "model": adapter or "base", "turns": turns, "action_on_menu": on,
                      "legal_steps": sum(r.legal_steps for r in ros), "ends": dict(rules),
                      "actions": dict(actions.most_common(4))}), flush=True)
