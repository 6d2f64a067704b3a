"""Decoding as training plays (a LoRA adapter merged for the plays) with the cache written in place and
the merged LoRA layers swapped out (``kv_cache.GrowingLayer``, ``generation.merged_lora(unwrap=True)``)
against Hugging Face's concatenating cache with the PEFT layers left in (the code before them), on
the plays RLVR makes: its search (``k`` sampled, menu-constrained plans per train scenario, 64 plans
per batch) and its validation (greedy plans on held-out scenarios, 32 per batch).

    python bench/decode_cache.py [--species vampire] [--adapter srl_adapter] [--scenarios 16] [--repeats 3]

Reads the embedded default's artifacts (run ``make main`` first): ``artifacts/base_models/bronze``,
``artifacts/<adapter>/<species>`` and ``artifacts/srl_dataset/<species>.json``. The adapter is loaded
trainable and unmerged, as a training job holds it. Each repeat runs both arms in this one process,
alternating; prints the median seconds of each, their ratio, and whether both played the same plans
(they must: the two paths compute the same numbers in the same order).
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

    from srl_pipeline.training.generation import generate_steps, merged_lora
    from srl_pipeline.training.plan_rollout import rollout_plans

    torch.set_num_threads(args.threads)
    run = load_species_run(args)
    if run is None:
        return 2
    model, tok = run.trainable_model()
    search_tasks = run.plan_tasks("train")[: args.scenarios]
    held_out = run.plan_tasks("validation") + run.plan_tasks("test")

    def play(new: bool) -> tuple[dict[str, float], dict[str, list]]:
        """Seconds and plays of each workload, one arm."""
        def gen(sampled: bool, batch: int):
            opts = dict(do_sample=True, temperature=1.0, top_p=0.9, menu_constrained=True) if sampled else {}
            return lambda prompts: generate_steps(model, tok, prompts, batch_size=batch, grow_cache=new, drop_finished=new, **opts)

        secs, outs = {}, {}
        with torch.no_grad(), merged_lora(model, unwrap=new):
            started = time.perf_counter()
            torch.manual_seed(0)
            search = rollout_plans(model, tok, search_tasks, run.ruleset, samples=args.k, generate=gen(True, 64))
            secs["search"], started = time.perf_counter() - started, time.perf_counter()
            greedy = rollout_plans(model, tok, held_out, run.ruleset, generate=gen(False, 32))
            secs["greedy plans"] = time.perf_counter() - started
        outs["search"] = [(r.outcome, [t.completion_ids for t in r.turns]) for r in search]
        outs["greedy plans"] = [(r.outcome, [t.completion_ids for t in r.turns]) for r in greedy]
        return secs, outs

    seconds, results = alternate(play, (False, True), args.repeats)
    turns = {name: sum(len(p[1]) for p in plays) for name, plays in results[True].items()}
    print(f"{args.species} {args.adapter}: search {args.k} x {len(search_tasks)} train scenarios (sampled, "
          f"menu-constrained, 64 plans a batch; {turns['search']} turns), {len(held_out)} held-out plans (greedy, "
          f"32 a batch; {turns['greedy plans']} turns); {args.threads} thread(s), median of {args.repeats}")
    for name in seconds[False]:
        before, now = seconds[False][name], seconds[True][name]
        print(f"  {name:13s} concatenating cache, PEFT layers in {before:6.2f}s   in-place cache, swapped out "
              f"{now:6.2f}s   speed-up x{before / now:.2f}   same plays: {results[False][name] == results[True][name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
