"""Generation with the common beginning of a batch's prompts run once (``shared_prefix``) against
the plain left-padded batch, on the plays the pipeline makes: RLVR's search (``k`` sampled plans per
train scenario, 64 plans per batch) and evaluation's greedy plans and step examples.

    python bench/shared_prefix_generation.py [--species vampire] [--adapter srl_adapter] [--scenarios 16] [--repeats 2]

Reads the embedded default's artifacts (run ``make main`` first): ``artifacts/base_models/bronze``,
``artifacts/<adapter>/<species>`` and ``artifacts/srl_dataset/<species>.json``. Each repeat runs
both arms in this one process, alternating; prints the median seconds of each, their ratio, and
whether both played the same plans (they should, up to float rounding on near ties).
"""

from __future__ import annotations

import argparse
import time

from main_run_artifacts import add_arguments, add_play_arguments, alternate, load_species_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, species="vampire")
    add_play_arguments(ap)
    args = ap.parse_args(argv)

    import torch

    from srl_pipeline.training.base_models import load_model
    from srl_pipeline.training.generation import generate_steps
    from srl_pipeline.training.plan_rollout import rollout_plans

    torch.set_num_threads(args.threads)
    run = load_species_run(args)
    if run is None:
        return 2
    ruleset = run.ruleset
    tasks = {split: run.plan_tasks(split) for split in ("train", "test")}
    steps = [e["prompt"] for e in run.examples("test")][:32]
    model, tok = load_model(str(run.base), str(run.adapter), "cpu")

    def play(share: bool) -> tuple[dict[str, float], dict[str, list]]:
        """Seconds and completions of each workload, one arm."""
        def gen(sampled: bool):
            opts = dict(do_sample=True, temperature=1.0, top_p=0.9) if sampled else {}
            return lambda prompts: generate_steps(model, tok, prompts, batch_size=64, share_prefixes=share, **opts)

        secs, outs = {}, {}
        started = time.perf_counter()
        torch.manual_seed(0)
        search = rollout_plans(model, tok, tasks["train"][: args.scenarios], ruleset, samples=args.k,
                               generate=gen(True))
        secs["search"], started = time.perf_counter() - started, time.perf_counter()
        greedy = rollout_plans(model, tok, tasks["test"], ruleset, generate=gen(False))
        secs["greedy plans"], started = time.perf_counter() - started, time.perf_counter()
        outs["step examples"] = gen(False)(steps)
        secs["step examples"] = time.perf_counter() - started
        outs["search"] = [[t.completion for t in r.turns] for r in search]
        outs["greedy plans"] = [[t.completion for t in r.turns] for r in greedy]
        return secs, outs

    seconds, results = alternate(play, (False, True), args.repeats)
    print(f"{args.species} {args.adapter}: search {args.k} x {min(args.scenarios, len(tasks['train']))} train "
          f"scenarios (sampled, 64 plans a batch), {len(tasks['test'])} test plans (greedy), {len(steps)} step "
          f"examples; {args.threads} thread(s), median of {args.repeats}")
    for name in seconds[False]:
        plain, shared = seconds[False][name], seconds[True][name]
        print(f"  {name:14s} plain {plain:6.2f}s   shared prefix {shared:6.2f}s   speed-up x{plain / shared:.2f}   "
              f"same plays: {results[False][name] == results[True][name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
