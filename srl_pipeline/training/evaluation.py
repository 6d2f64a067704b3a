"""Evaluation of the species' models on held-out scenarios (DESIGN.md §5, arXiv 2510.25992 Table 1).

For one model (base, SFT, RLVR-only, SRL, SRL→RLVR) on a list of :class:`PlanTask`:

- ``success_greedy``: the fraction of tasks whose greedy full plan (written step by step, judged
  by the simulator, see :mod:`.plan_rollout`) reaches the goal;
- ``success_avg_k``: the mean success of ``k`` sampled plans per task at ``settings.temperature``
  (the paper's avg@k), torch seeded with ``settings.seed`` so a rerun draws the same samples;
- ``step_similarity`` / ``srl_reward``: the greedy next step against the expert's step on the
  step-wise examples (a broken format counts 0 for the similarity, -1 for the reward);
- ``format_error_rate``: broken turns over all generated turns (greedy rollouts + step examples);
- ``kl_to_base``: the mean per-token KL(model || reference) over the completion tokens of the
  greedy rollouts, exact over the vocabulary from both models' logits;
- ``outcomes``, ``weakness`` (per rule, per goal, the top failure modes in words) and a few
  example plans for the UI.

Everything about counting is in the pure function :func:`summarize_rollouts` (tested on hand-made
rollouts); :func:`evaluate_model` only generates and calls it. No Dagster here; torch and PEFT are
imported where models run.
"""

from __future__ import annotations

import gc
import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from .plan_rollout import OUTCOMES, PlanRollout, PlanTask
from .rewards import FORMAT_PENALTY, extract_step, step_similarity

__all__ = [
    "EvalSettings", "MODEL_ADAPTER_ASSETS", "MODEL_LABELS", "PERCENT_METRICS", "TABLE_MODELS", "comparison_plot", "evaluate_model", "evaluate_models",
    "kl_to_reference", "load_model", "results_table", "summarize_rollouts", "summarize_steps",
]

# Display names, in the paper's Table 1 order.
MODEL_LABELS = {"base": "Base", "sft": "SFT", "rlvr_only": "RLVR-only", "srl": "SRL", "srl_rlvr": "SRL→RLVR"}
TABLE_MODELS = list(MODEL_LABELS)
# Where each model's adapter is stored (artifacts/<asset>/<species>/); the base has none.
MODEL_ADAPTER_ASSETS: dict[str, str | None] = {
    "base": None, "sft": "sft_adapter", "rlvr_only": "rlvr_only_adapter", "srl": "srl_adapter",
    "srl_rlvr": "rlvr_adapter",
}
# Metrics in [0, 1] shown as percentages by results_table; the others are shown as numbers.
PERCENT_METRICS = frozenset({"success_greedy", "success_avg_k", "step_similarity", "format_error_rate"})
MAX_EXAMPLES = 3
TOP_FAILURE_MODES = 3


@dataclass
class EvalSettings:
    k: int = 4                    # sampled plans per task for avg@k
    temperature: float = 1.0      # sampling temperature of the avg@k plans
    max_steps: int = 8            # steps per plan before it counts as unfinished
    max_new_tokens: int = 96      # per step (think + step line)
    batch_size: int = 32          # prompts per generate / KL forward
    step_examples: int = 64       # cap on the step-wise examples scored
    seed: int = 0
    chat: bool = False            # wrap prompts in the tokenizer's chat template

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(base_model: str, adapter: str | None = None, device: str | None = None):
    """``(model, tokenizer)``: the base through :func:`.base_models.load_base_model` (a local path
    or a hub id), then the PEFT adapter on it when given; in eval mode, on ``device`` (CUDA when
    available by default)."""
    from .base_models import load_base_model

    model, tokenizer = load_base_model(base_model)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    model.to(device or _default_device())
    model.eval()
    return model, tokenizer


def _release_memory() -> None:
    """After the caller dropped its last reference to a model: collect it and return CUDA memory."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def kl_to_reference(model: Any, reference: Any, tokenizer: Any, rollouts: Sequence[PlanRollout], *,
                    chat: bool = False, batch_size: int = 32) -> float | None:
    """Mean per-token KL(model || reference) over every completion token of ``rollouts``' turns.

    Each turn is re-scored as prompt (rendered exactly as generation saw it) + its completion ids;
    at each completion position KL = sum_v p(v) (log p(v) - log q(v)) over the whole vocabulary,
    from both models' logits at temperature 1. Rows are left-padded with explicit position ids and
    only the last ``max completion + 1`` logits are kept. None when there is no completion token."""
    import torch

    from .generation import render_prompts

    seqs: list[tuple[list[int], int]] = []   # (prompt + completion ids, completion length)
    for ro in rollouts:
        for turn in ro.turns:
            if not turn.completion_ids:
                continue
            text = render_prompts(tokenizer, [turn.prompt], chat)[0]
            prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if not prompt_ids:
                continue
            seqs.append((list(prompt_ids) + list(turn.completion_ids), len(turn.completion_ids)))
    if not seqs:
        return None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    ref_device = next(reference.parameters()).device
    total, count = 0.0, 0
    was = model.training, reference.training
    model.eval()
    reference.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(seqs), batch_size):
                chunk = seqs[i:i + batch_size]
                width = max(len(s) for s, _ in chunk)
                keep = max(c for _, c in chunk) + 1
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for r, (s, _) in enumerate(chunk):
                    ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
                    mask[r, width - len(s):] = 1
                pos = (mask.cumsum(-1) - 1).clamp(min=0)

                def logprobs(m: Any, dev: Any) -> Any:
                    out = m(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                            logits_to_keep=keep)
                    return torch.log_softmax(out.logits[:, -keep:].float(), dim=-1)

                lp = logprobs(model, device)
                lq = logprobs(reference, ref_device).to(lp.device)
                for r, (_, c) in enumerate(chunk):
                    # the completion's tokens are the last c of the row, predicted by the c positions
                    # before them: kept indices keep-1-c .. keep-2
                    p, q = lp[r, keep - 1 - c: keep - 1], lq[r, keep - 1 - c: keep - 1]
                    kl = (p.exp() * (p - q)).sum(-1)
                    total += float(kl.sum())
                    count += c
    finally:
        model.train(was[0])
        reference.train(was[1])
    return total / count if count else None


# ------------------------------------------------------------------------------------------------
# Aggregation (pure)
# ------------------------------------------------------------------------------------------------
def _fraction(n: int, d: int) -> float | None:
    return n / d if d else None


def _example(ro: PlanRollout, task: PlanTask | None) -> dict[str, Any]:
    failed = ro.turns[-1].completion if ro.turns and ro.outcome == "format_error" else None
    return {
        "scenario_id": task.scenario.id if task is not None else None,
        "goal": ro.goal, "outcome": ro.outcome, "plan": ro.plan, "legal_steps": ro.legal_steps,
        "violation": ({"step": ro.violation.step, "rule": ro.violation.rule, "kind": ro.violation.kind,
                       "message": ro.violation.message} if ro.violation is not None else None),
        "unparsed_completion": failed,
    }


def summarize_rollouts(greedy: Sequence[PlanRollout], sampled: Sequence[PlanRollout], tasks: Sequence[PlanTask],
                       k: int) -> dict[str, Any]:
    """Every rollout-derived metric, from one greedy rollout per task and ``k`` sampled per task.

    - ``success_greedy``: greedy successes / tasks; ``success_avg_k``: sampled successes /
      (tasks * k) (None when k is 0).
    - ``outcomes``: counts per :data:`OUTCOMES` over greedy + sampled rollouts ("plans").
    - ``weakness.by_rule``: rule id -> plans (greedy + sampled) ended by violating it.
    - ``weakness.by_goal``: goal -> tasks with that goal, their greedy success rate and greedy
      failures.
    - ``weakness.top_failure_modes``: up to 3 sentences, most frequent first (ties by text), from:
      each violated rule ("violates R (n of N plans)"), format errors, goals' fail conditions,
      unfinished plans, and each goal no plan ever reached ("never reaches G (0 of n plans)").
    - ``examples``: up to 3 greedy plans, first one per distinct outcome (in task order), then the
      next ones in task order.
    - ``per_task``: per task (greedy rollout): scenario id, goal, outcome, legal steps, turns, the
      violated rule (or None) and how many of its sampled plans succeeded.
    """
    n = len(tasks)
    plans = list(greedy) + list(sampled)
    total = len(plans)
    outcomes = Counter({o: 0 for o in OUTCOMES})
    outcomes.update(r.outcome for r in plans)
    by_rule = Counter(r.violation.rule for r in plans if r.outcome == "violation" and r.violation is not None)

    by_goal: dict[str, dict[str, Any]] = {}
    for r in greedy:
        g = by_goal.setdefault(r.goal, {"tasks": 0, "successes": 0})
        g["tasks"] += 1
        g["successes"] += r.success
    by_goal_out = {goal: {"tasks": g["tasks"], "success_greedy": g["successes"] / g["tasks"],
                          "failures": g["tasks"] - g["successes"]} for goal, g in sorted(by_goal.items())}

    modes: list[tuple[int, str]] = [(c, f"violates {rule} ({c} of {total} plans)") for rule, c in by_rule.items()]
    if outcomes["format_error"]:
        modes.append((outcomes["format_error"], f"format errors ({outcomes['format_error']} of {total} plans)"))
    if outcomes["goal_failed"]:
        modes.append((outcomes["goal_failed"],
                      f"triggers the goal's fail condition ({outcomes['goal_failed']} of {total} plans)"))
    if outcomes["unfinished"]:
        modes.append((outcomes["unfinished"],
                      f"runs out of steps before the goal ({outcomes['unfinished']} of {total} plans)"))
    per_goal = Counter(r.goal for r in plans)
    reached = {r.goal for r in plans if r.success}
    for goal, c in per_goal.items():
        if goal not in reached:
            modes.append((c, f"never reaches {goal} (0 of {c} plans)"))
    modes.sort(key=lambda m: (-m[0], m[1]))

    chosen: list[PlanRollout] = []
    seen: set[str] = set()
    ordered = sorted(greedy, key=lambda r: r.task_index)
    for r in ordered:
        if r.outcome not in seen and len(chosen) < MAX_EXAMPLES:
            chosen.append(r)
            seen.add(r.outcome)
    for r in ordered:
        if len(chosen) >= MAX_EXAMPLES:
            break
        if not any(r is c for c in chosen):
            chosen.append(r)
    chosen.sort(key=lambda r: r.task_index)

    sampled_ok = Counter(r.task_index for r in sampled if r.success)
    per_task = [{"scenario_id": tasks[r.task_index].scenario.id if 0 <= r.task_index < n else None,
                 "goal": r.goal, "outcome": r.outcome, "legal_steps": r.legal_steps, "turns": len(r.turns),
                 "violated_rule": r.violation.rule if r.violation is not None else None,
                 "sampled_successes": sampled_ok[r.task_index]} for r in ordered]

    return {
        "tasks": n,
        "success_greedy": _fraction(sum(r.success for r in greedy), n),
        "success_avg_k": _fraction(sum(r.success for r in sampled), n * k) if k else None,
        "k": k,
        "outcomes": {o: outcomes[o] for o in OUTCOMES},
        "weakness": {"by_rule": dict(sorted(by_rule.items())), "by_goal": by_goal_out,
                     "top_failure_modes": [text for _, text in modes[:TOP_FAILURE_MODES]]},
        "examples": [_example(r, tasks[r.task_index] if 0 <= r.task_index < n else None) for r in chosen],
        "per_task": per_task,
    }


def summarize_steps(completions: Sequence[str], targets: Sequence[str]) -> dict[str, Any]:
    """Greedy next steps against the expert's: mean similarity (broken format = 0), mean SRL reward
    (broken format = -1) and the number of broken completions. None means when there is none."""
    if len(completions) != len(targets):
        raise ValueError(f"{len(completions)} completions but {len(targets)} targets")
    sims, rewards, broken = [], [], 0
    for text, target in zip(completions, targets):
        step = extract_step(text)
        if step is None:
            broken += 1
            sims.append(0.0)
            rewards.append(FORMAT_PENALTY)
        else:
            s = step_similarity(step, target)
            sims.append(s)
            rewards.append(s)
    n = len(completions)
    return {"step_examples": n, "step_similarity": sum(sims) / n if n else None,
            "srl_reward": sum(rewards) / n if n else None, "step_format_errors": broken}


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------
def evaluate_model(model: Any, tokenizer: Any, tasks: Sequence[PlanTask], ruleset: Any,
                   step_examples: Sequence[dict[str, Any]], settings: EvalSettings | None = None,
                   reference: Any = None) -> dict[str, Any]:
    """The metrics of one model (JSON-able; see the module docstring and :func:`summarize_rollouts`).

    ``step_examples`` are SRL examples (``prompt``, ``target``), at most ``settings.step_examples``
    of them are scored. ``reference`` (the base model, same tokenizer) gives ``kl_to_base``;
    without it ``kl_to_base`` is None."""
    import torch

    from .generation import generate_steps
    from .plan_rollout import rollout_plans

    settings = settings or EvalSettings()
    tasks = list(tasks)
    common = dict(max_new_tokens=settings.max_new_tokens, max_steps=settings.max_steps,
                  batch_size=settings.batch_size, chat=settings.chat)
    greedy = rollout_plans(model, tokenizer, tasks, ruleset, samples=1, do_sample=False, **common) if tasks else []
    sampled: list[PlanRollout] = []
    if tasks and settings.k > 0:
        torch.manual_seed(settings.seed)
        sampled = rollout_plans(model, tokenizer, tasks, ruleset, samples=settings.k, do_sample=True,
                                temperature=settings.temperature, **common)
    examples = list(step_examples)[: settings.step_examples]
    outs = generate_steps(model, tokenizer, [e["prompt"] for e in examples], do_sample=False,
                          max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                          chat=settings.chat) if examples else []
    steps = summarize_steps([text for text, _ in outs], [e["target"] for e in examples])

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
        "step_examples": steps["step_examples"],
        "format_error_rate": _fraction(broken_turns + steps["step_format_errors"], turns + steps["step_examples"]),
        "turns": turns + steps["step_examples"],
        "kl_to_base": kl,
        "settings": settings.to_dict(),
    })
    return result


def evaluate_models(candidates: dict[str, tuple[str, str | None]], tasks: Sequence[PlanTask], ruleset: Any,
                    step_examples: Sequence[dict[str, Any]], settings: EvalSettings | None = None,
                    device: str | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate each candidate (name -> (base_model, adapter or None)) in order.

    The first candidate's base model is loaded once, unadapted, as the KL reference; a candidate
    named "base" (or any unadapted candidate on that same base) is evaluated on it directly. An
    unadapted candidate has ``kl_to_base`` 0.0 (it is its base); an adapter on another base model
    (another tier, another tokenizer) gets ``kl_to_base`` None. Each candidate's model is freed before the next one loads."""
    settings = settings or EvalSettings()
    if not candidates:
        return {}
    ref_base = next(iter(candidates.values()))[0]
    reference, ref_tok = load_model(ref_base, None, device)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, (base_model, adapter) in candidates.items():
            if str(base_model) == str(ref_base) and not adapter:
                res = evaluate_model(reference, ref_tok, tasks, ruleset, step_examples, settings, reference=None)
                res["kl_to_base"] = 0.0
            else:
                model, tok = load_model(base_model, adapter, device)
                try:
                    same = str(base_model) == str(ref_base)
                    res = evaluate_model(model, tok, tasks, ruleset, step_examples, settings,
                                         reference=reference if same and adapter else None)
                    if not adapter:
                        res["kl_to_base"] = 0.0  # an unadapted model is its own base
                finally:
                    del model, tok
                    _release_memory()
            res["model"] = {"name": name, "base_model": str(base_model), "adapter": str(adapter) if adapter else None}
            results[name] = res
    finally:
        del reference, ref_tok
        _release_memory()
    return results


# ------------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------------
def _cell(value: Any, metric: str) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}" if metric in PERCENT_METRICS else f"{value:.3f}"


def results_table(results: dict[str, dict[str, dict[str, Any]]], models: list[str],
                  metric: str = "success_greedy") -> str:
    """A markdown table (the paper's Table 1 style): one row per species (in ``results``' order)
    and an "average" row (the mean over the species that have the cell), one column per model in
    the order of ``models``. Fractions (:data:`PERCENT_METRICS`) are percentages with one decimal,
    other metrics numbers with three; a missing cell is "—". The first header cell names the metric."""
    labels = [MODEL_LABELS.get(m, m) for m in models]
    unit = ", %" if metric in PERCENT_METRICS else ""
    lines = [f"| species ({metric}{unit}) | {' | '.join(labels)} |", "|---|" + "---:|" * len(models)]
    columns: dict[str, list[float]] = {m: [] for m in models}
    for species, by_model in results.items():
        cells = []
        for m in models:
            v = (by_model.get(m) or {}).get(metric)
            if v is not None:
                columns[m].append(float(v))
            cells.append(_cell(v, metric))
        lines.append(f"| {species} | {' | '.join(cells)} |")
    avg = [_cell(sum(columns[m]) / len(columns[m]) if columns[m] else None, metric) for m in models]
    lines.append(f"| average | {' | '.join(avg)} |")
    return "\n".join(lines) + "\n"


def comparison_plot(results_for_species: dict[str, dict[str, Any]], models: list[str], title: str | None = None) -> bytes:
    """A PNG bar chart: greedy success and avg@k success (percent) per model, in ``models``' order
    (a model without results is drawn empty)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.3 * len(models) + 2), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    xs = list(range(len(models)))
    width = 0.38
    greedy = [100 * ((results_for_species.get(m) or {}).get("success_greedy") or 0.0) for m in models]
    avgk = [100 * ((results_for_species.get(m) or {}).get("success_avg_k") or 0.0) for m in models]
    ks = {(results_for_species.get(m) or {}).get("k") for m in models} - {None}
    k_label = f"avg@{ks.pop()}" if len(ks) == 1 else "avg@k"
    b1 = ax.bar([x - width / 2 for x in xs], greedy, width, label="greedy", color="#4C72B0")
    b2 = ax.bar([x + width / 2 for x in xs], avgk, width, label=k_label, color="#DD8452")
    for bars in (b1, b2):
        for bar in bars:
            ax.annotate(f"{bar.get_height():.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels([MODEL_LABELS.get(m, m) for m in models])
    ax.set_ylabel("plan success (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title or "Full-plan success on held-out scenarios")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
