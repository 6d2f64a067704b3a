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
import statistics
import time

from main_run_artifacts import add_arguments, load_species_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, species="lich")
    args = ap.parse_args(argv)

    import torch
    from peft import PeftModel

    from srl_pipeline.evaluation.evaluate import EvalSettings, evaluate_model
    from srl_pipeline.training.base_models import load_base_model, load_model

    torch.set_num_threads(args.threads)
    run = load_species_run(args)
    if run is None:
        return 2
    base, adapter = run.base, run.adapter
    tasks, steps, ruleset = run.plan_tasks("test"), run.examples("test"), run.ruleset
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
