"""Evaluation throughput: a LoRA adapter served merged into its base against the same adapter left
as PEFT layers (what evaluation, bronze_traces and the teacher did before), on one species' held-out
test split.

    python bench/evaluation_throughput.py [--species lich] [--adapter srl_adapter] [--repeats 2] [--threads 1]

Reads the embedded default's artifacts (run ``make main`` first): ``artifacts/base_models/bronze``,
``artifacts/<adapter>/<species>`` and ``artifacts/srl_dataset/<species>.json``. Each repeat plays the
test split greedily and scores the step examples (``k`` 0: the sampled plans scale the same way),
unmerged then merged, in this one process; prints the median seconds of each, their ratio, and
whether both played the same plans (they should, up to float rounding on near ties).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--species", default="lich")
    ap.add_argument("--adapter", default="srl_adapter", help="the adapter asset folder under artifacts/")
    ap.add_argument("--artifacts", default=str(REPO / "artifacts"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import torch
    from peft import PeftModel

    from srl_pipeline.evaluation.evaluate import EvalSettings, evaluate_model
    from srl_pipeline.game.rules import ruleset_from_artifact
    from srl_pipeline.training.base_models import load_base_model, load_model
    from srl_pipeline.training.plan_rollout import PlanTask

    torch.set_num_threads(args.threads)
    root = Path(args.artifacts)
    base, adapter = root / "base_models" / "bronze", root / args.adapter / args.species
    dataset = root / "srl_dataset" / f"{args.species}.json"
    for path in (base, adapter, dataset):
        if not path.exists():
            print(f"{path}: missing; run `make main` first", file=sys.stderr)
            return 2
    data = json.loads(dataset.read_text(encoding="utf-8"))
    ruleset = ruleset_from_artifact(data["rules"])
    tasks = [PlanTask.from_record(r, ruleset) for r in data["plan_tasks"] if r["split"] == "test"]
    steps = [e for e in data["examples"] if e["split"] == "test"]
    settings = EvalSettings(k=0, batch_size=96, step_examples=32)

    def unmerged():
        model, tok = load_base_model(str(base))
        return PeftModel.from_pretrained(model, str(adapter)).eval(), tok

    def merged():
        return load_model(str(base), str(adapter), "cpu")

    seconds: dict[str, list[float]] = {"unmerged": [], "merged": []}
    plays: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name, load in (("unmerged", unmerged), ("merged", merged)):
            model, tok = load()
            started = time.perf_counter()
            result = evaluate_model(model, tok, tasks, ruleset, steps, settings)
            seconds[name].append(time.perf_counter() - started)
            # everything but wall time and the parameter count (PEFT's layers add the adapter's)
            plays[name] = {k: v for k, v in result.items() if k not in ("latency_ms_per_turn", "parameters")}
    med = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"{args.species} {args.adapter}: {len(tasks)} test plans + {min(len(steps), 32)} step examples, "
          f"{args.threads} thread(s), median of {args.repeats}")
    print(f"  unmerged (PEFT layers) {med['unmerged']:.2f}s   merged {med['merged']:.2f}s   "
          f"speed-up x{med['unmerged'] / med['merged']:.2f}")
    print(f"  same plays and metrics: {plays['unmerged'] == plays['merged']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
