"""Evaluation of the species' models on held-out scenarios (DESIGN.md §5, arXiv 2510.25992 Table 1).

For one model (base, SFT, RLVR-only, SRL, SRL→RLVR) on a list of :class:`PlanTask`:

- ``success_greedy``: the fraction of tasks whose greedy full plan (written step by step, judged
  by the simulator, see :mod:`srl_pipeline.training.plan_rollout`) reaches the goal;
- ``success_avg_k``: the mean success of ``k`` sampled plans per task at ``settings.temperature``
  (the paper's avg@k), torch seeded with ``settings.seed`` so a rerun draws the same samples;
- ``step_similarity`` / ``srl_reward``: the greedy next step against the expert's step on the
  step-wise examples (a broken format counts 0 for the similarity, -1 for the reward);
- ``decision_accuracy``: the share of those greedy steps whose call does what the expert's does in
  the state shown (the simulator judges; a sensitive, per-step measure of what SRL teaches);
- ``format_error_rate``: broken turns over all generated turns (greedy rollouts + step examples);
- ``repeated_line_rate``: greedy turns that repeat a line their play already spoke
  (:func:`.metrics.repeated_line_rate`);
- ``kl_to_base``: the mean per-token KL(model || reference) over the completion tokens of the
  greedy rollouts, exact over the vocabulary from both models' logits (:mod:`.kl`);
- ``parameters`` (the served model's: an adapter is merged into its base) and
  ``latency_ms_per_turn`` (wall time of the greedy rollouts over their turns, batched as
  configured: what a tier costs to serve);
- ``outcomes``, ``weakness`` (per rule, per goal, the top failure modes in words) and a few
  example plans for the UI.

Everything about counting is in the pure functions of :mod:`.metrics` (tested on hand-made
rollouts); :func:`evaluate_model` only generates and calls them. No Dagster here; torch and PEFT
are imported where models run.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..core.hashing import content_hash, file_sha256
from ..core.turn_budget import TURN_TOKENS
from ..training.base_models import load_model
from ..training.plan_rollout import PlanRollout, PlanTask
from .kl import kl_to_reference
from .metrics import fraction, repeated_line_rate, summarize_rollouts, summarize_steps

__all__ = ["EvalSettings", "evaluate_model", "evaluate_models"]


@dataclass
class EvalSettings:
    k: int = 4                    # sampled plans per task for avg@k
    temperature: float = 1.0      # sampling temperature of the avg@k plans
    max_steps: int = 8            # steps per plan before it counts as unfinished
    max_new_tokens: int = TURN_TOKENS   # per step (think + step line)
    batch_size: int = 32          # prompts per generate / KL forward
    step_examples: int = 64       # cap on the step-wise examples scored
    seed: int = 0
    chat: bool = False            # wrap prompts in the tokenizer's chat template
    menu_constrained: bool = False  # serve as the game does: the action call is one of the menu's (training/menu_constraint.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _release_memory() -> None:
    """After the caller dropped its last reference to a model: collect it and return CUDA memory."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def evaluate_model(model: Any, tokenizer: Any, tasks: Sequence[PlanTask], ruleset: Any,
                   step_examples: Sequence[dict[str, Any]], settings: EvalSettings | None = None,
                   reference: Any = None) -> dict[str, Any]:
    """The metrics of one model (JSON-able; see the module docstring and :func:`summarize_rollouts`).

    ``step_examples`` are SRL examples (``prompt``, ``target``), at most ``settings.step_examples``
    of them are scored. ``reference`` (the base model, same tokenizer) gives ``kl_to_base``;
    without it ``kl_to_base`` is None."""
    import torch

    from ..training.generation import generate_steps
    from ..training.plan_rollout import rollout_plans

    settings = settings or EvalSettings()
    tasks = list(tasks)
    common = dict(max_new_tokens=settings.max_new_tokens, max_steps=settings.max_steps,
                  batch_size=settings.batch_size, chat=settings.chat, menu_constrained=settings.menu_constrained)
    started = time.perf_counter()
    greedy = rollout_plans(model, tokenizer, tasks, ruleset, samples=1, do_sample=False, **common) if tasks else []
    greedy_seconds = time.perf_counter() - started
    sampled: list[PlanRollout] = []
    if tasks and settings.k > 0:
        torch.manual_seed(settings.seed)
        sampled = rollout_plans(model, tokenizer, tasks, ruleset, samples=settings.k, do_sample=True,
                                temperature=settings.temperature, **common)
    examples = list(step_examples)[: settings.step_examples]
    outs = generate_steps(model, tokenizer, [e["prompt"] for e in examples], do_sample=False,
                          max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                          chat=settings.chat, menu_constrained=settings.menu_constrained) if examples else []
    steps = summarize_steps([text for text, _ in outs], [e["target"] for e in examples],
                            [e["prompt"] for e in examples], ruleset)

    result = summarize_rollouts(greedy, sampled, tasks, settings.k if tasks else 0)
    turns = sum(len(r.turns) for r in greedy)
    broken_turns = sum(t.step is None for r in greedy for t in r.turns)
    kl = None
    if reference is not None and greedy:
        kl = kl_to_reference(model, reference, tokenizer, greedy, chat=settings.chat,
                             batch_size=max(1, settings.batch_size))
    result.update({
        "step_similarity": steps["step_similarity"],
        "srl_reward": steps["srl_reward"],
        "decision_accuracy": steps["decision_accuracy"],
        "step_examples": steps["step_examples"],
        "format_error_rate": fraction(broken_turns + steps["step_format_errors"], turns + steps["step_examples"]),
        "turns": turns + steps["step_examples"],
        "repeated_line_rate": repeated_line_rate(greedy),
        "kl_to_base": kl,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "latency_ms_per_turn": round(1000 * greedy_seconds / turns, 3) if turns else None,
        "settings": settings.to_dict(),
    })
    return result


def adapter_identity(adapter: str | os.PathLike) -> str:
    """What an adapter folder computes: its weights' bytes and its config (target modules as a
    set: PEFT writes them in set order). Two folders with one identity play identically, so one
    evaluation serves both."""
    folder = Path(adapter)
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    modules = config.get("target_modules")
    if isinstance(modules, list):
        config["target_modules"] = sorted(modules)
    config.pop("base_model_name_or_path", None)   # the base is compared beside it
    weights = sorted(folder.glob("adapter_model.*"))
    return content_hash({"config": config, "weights": {p.name: file_sha256(p) for p in weights}})


def evaluate_models(candidates: dict[str, tuple[str, str | None]], tasks: Sequence[PlanTask], ruleset: Any,
                    step_examples: Sequence[dict[str, Any]], settings: EvalSettings | None = None,
                    device: str | None = None,
                    suites: dict[str, tuple[Sequence[PlanTask], Sequence[dict[str, Any]]]] | None = None,
                    ) -> dict[str, dict[str, Any]]:
    """Evaluate each candidate (name -> (base_model, adapter or None)) in order.

    The first candidate's base model is loaded once, unadapted, as the KL reference; a candidate
    named "base" (or any unadapted candidate on that same base) is evaluated on it directly. An
    unadapted candidate has ``kl_to_base`` 0.0 (it is its base); an adapter on another base model
    (another tier, another tokenizer) gets ``kl_to_base`` None. Each candidate's model is freed before the next one loads.
    A candidate whose weights equal an earlier one's (same base, same :func:`adapter_identity`)
    gets that candidate's results, marked ``same_weights_as``: greedy play is deterministic and the
    sampled plans are seeded, so a second evaluation would only repeat them.
    ``suites`` (name -> (tasks, step examples)), e.g. the hand-written encounters, are evaluated
    with the same loaded model, greedy only (their tables read greedy success; sampled plans of
    every suite cost as much again), and stored under ``result[name]``."""
    settings = settings or EvalSettings()
    suite_settings = replace(settings, k=0)
    if not candidates:
        return {}
    ref_base = next(iter(candidates.values()))[0]
    reference, ref_tok = load_model(ref_base, None, device)
    results: dict[str, dict[str, Any]] = {}
    evaluated: dict[tuple[str, str | None], str] = {}   # weights -> the candidate that played them
    try:
        for name, (base_model, adapter) in candidates.items():
            weights = (str(base_model), adapter_identity(adapter) if adapter else None)
            if weights in evaluated:   # e.g. RLVR whose selection shipped its starting (SRL) adapter
                res = copy.deepcopy(results[evaluated[weights]])
                res["same_weights_as"] = evaluated[weights]
            elif str(base_model) == str(ref_base) and not adapter:
                res = evaluate_model(reference, ref_tok, tasks, ruleset, step_examples, settings, reference=None)
                res["kl_to_base"] = 0.0
                for suite, (s_tasks, s_steps) in (suites or {}).items():
                    res[suite] = evaluate_model(reference, ref_tok, s_tasks, ruleset, s_steps, suite_settings)
            else:
                model, tok = load_model(base_model, adapter, device)
                try:
                    same = str(base_model) == str(ref_base)
                    res = evaluate_model(model, tok, tasks, ruleset, step_examples, settings,
                                         reference=reference if same and adapter else None)
                    if not adapter:
                        res["kl_to_base"] = 0.0  # an unadapted model is its own base
                    for suite, (s_tasks, s_steps) in (suites or {}).items():
                        res[suite] = evaluate_model(model, tok, s_tasks, ruleset, s_steps, suite_settings)
                finally:
                    del model, tok
                    _release_memory()
            res["model"] = {"name": name, "base_model": str(base_model), "adapter": str(adapter) if adapter else None}
            results[name] = res
            evaluated.setdefault(weights, name)
    finally:
        del reference, ref_tok
        _release_memory()
    return results
