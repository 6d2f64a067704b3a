"""`srl-pipeline eval`: evaluate one species' model on a user's own scenario file (JSONL).

    srl-pipeline eval --scenarios configs/eval/vampire_encounters.jsonl --species vampire \\
        [--model srl_rlvr|srl|base|sft|rlvr_only|silver|gold] [--tier bronze|silver|gold] \\
        [--base-model PATH_OR_ID] [--adapter PATH] [--out metrics.json] [--k 4] [--max-steps 8]

Reads the profile's artifacts (``$SRL_PROFILE``; ``--artifacts DIR`` or ``$SRL_ARTIFACTS_DIR``
overrides the folder): the species' rules in force (``game_rules/<species>.json``), its lore
(``monster_lore/<species>.json``) and BM25 index (``lore_index/<species>.json``), the tier's base
model and the model's adapter (``<asset>/<species>/``). Every line of the file is validated
against the rules first (:func:`srl_pipeline.game.scenario_files.read_scenario_file`); any
problem (named by file, line and field) ends the command with exit code 2 before a model is
loaded or anything is written. Each scenario then gets its lore from the offline BM25 retriever
(as many passages as the collaboration retrieves), the model writes a full plan per scenario
(greedy, and ``k`` samples) that the simulator judges, and the metrics
(:func:`srl_pipeline.evaluation.evaluate.evaluate_model`) are printed and written atomically as
JSON (default ``<artifacts>/eval/<species>-<model>.json``). The file format is documented in
``configs/game/README.md`` ("User scenario files").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_json, read_json
from ..core import catalogue
from ..core.layout import BUILTIN, ArtifactLayout
from ..core.errors import InputError
from ..core.turn_budget import TURN_TOKENS
from ..game.errors import GameDataError
from ..game.names import validate_species_name
from ..evaluation.encounters import encounter_tasks
from ..game.scenario_files import read_scenario_file

ARTIFACTS_ENV = "SRL_ARTIFACTS_DIR"
# --model choices: the production models from the deployed one (SRL -> RLVR, the default) back to
# the base, then the paper's baselines
MODELS = (tuple(m.name for m in reversed(catalogue.production_models()))
          + tuple(m.name for m in catalogue.experiment_models()))
TIERS = catalogue.tier_names()
EXIT_BAD_INPUT = 2


class EvalInputError(Exception):
    """A problem with what the user gave or with the artifacts it needs (exit code 2)."""


# ------------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios", required=True, type=Path, help="JSONL file, one scenario per line")
    p.add_argument("--species", required=True, help="the species the scenarios are for")
    p.add_argument("--model", default="srl_rlvr", choices=MODELS,
                   help="which of the species' models (default srl_rlvr: SRL then RLVR)")
    p.add_argument("--tier", default=None, choices=TIERS, help="whose base model (default: the model's own tier)")
    p.add_argument("--base-model", help="base model path or hub id (default: the profile's for --tier)")
    p.add_argument("--adapter", help="PEFT adapter folder (default: the species' adapter for --model)")
    p.add_argument("--out", type=Path, help="metrics JSON (default <artifacts>/eval/<species>-<model>.json)")
    p.add_argument("--k", type=int, default=4, help="sampled plans per scenario for avg@k (default 4)")
    p.add_argument("--max-steps", type=int, default=8, help="steps per plan (default 8)")
    p.add_argument("--max-new-tokens", type=int, default=TURN_TOKENS, help=f"tokens per step (default {TURN_TOKENS})")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for avg@k (default 1.0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--prompt-format", default="auto", choices=("auto", "text", "chat"),
                   help="auto: the chat template when the tokenizer has one")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--artifacts", type=Path,
                   help=f"artifacts folder (default ${ARTIFACTS_ENV}, else the profile's artifacts.base_dir)")


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------
def _profile():
    from ..core.profiles import load_profile

    return load_profile()


def artifacts_dir(explicit: Path | None, profile=None) -> Path:
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(ARTIFACTS_ENV):
        return Path(os.environ[ARTIFACTS_ENV])
    return (profile or _profile()).artifacts_root()


def _need(path: Path, what: str, species: str) -> Path:
    if not path.is_file():
        raise EvalInputError(f"no {what} for species {species!r} at {path}: run `srl-pipeline main --species "
                             f"{species}` (or `srl-pipeline main`) first, or point --artifacts at the folder "
                             f"that has them")
    return path


def load_ruleset(artifacts: Path, species: str):
    from ..game.rules import ruleset_from_artifact

    path = _need(ArtifactLayout(artifacts).data("game_rules", species=species), "game rules", species)
    try:
        return ruleset_from_artifact(read_json(path))
    except (GameDataError, KeyError, ValueError) as e:
        raise EvalInputError(f"{path}: unreadable game rules artifact ({e}): run `srl-pipeline main` again") from e


def load_lore(artifacts: Path, species: str):
    """(SpeciesLore, LoreIndex) from the monster_lore and lore_index artifacts."""
    from ..game.lore import Passage, SpeciesLore
    from ..game.lore_index import LoreIndex

    lore_path = _need(ArtifactLayout(artifacts).data("monster_lore", species=species), "lore (monster_lore artifact)", species)
    index_path = _need(ArtifactLayout(artifacts).data("lore_index", species=species), "lore index", species)
    raw = read_json(lore_path)
    passages = tuple(Passage(r["id"], r["kind"], r["title"], r["text"], tuple(r.get("actions", ())))
                     for r in raw["passages"])
    lore = SpeciesLore(raw.get("species", species), passages, raw.get("source", str(lore_path)))
    index = LoreIndex.from_dict(read_json(index_path))
    if index.lore_hash != lore.content_hash:
        print(f"warning: {index_path} was built from other lore ({index.lore_hash}) than {lore_path} "
              f"({lore.content_hash}); run `srl-pipeline main` to refresh", file=sys.stderr)
    return lore, index


def resolve_models(args: argparse.Namespace, artifacts: Path, profile=None) -> tuple[str, str | None]:
    """(base model path or id, adapter folder or None) for the command's arguments."""
    base = args.base_model
    if args.tier is None:
        args.tier = catalogue.model(args.model).tier   # silver / gold adapt their own tier's base
    if not base:
        profile = profile or _profile()
        ident = (profile.section("training").get("base_models") or {}).get(args.tier, BUILTIN)
        base = ArtifactLayout(artifacts).base_model(args.tier, ident)
        if ident == BUILTIN and not (Path(base) / "config.json").is_file():
            raise EvalInputError(f"no built-in {args.tier} base model at {base}: run `srl-pipeline main` first "
                                 f"(it builds the base models), or pass --base-model")
    adapter = args.adapter
    asset = catalogue.model(args.model).adapter_asset
    if not adapter and asset:
        adapter = str(ArtifactLayout(artifacts).adapter(asset, args.species))
    if adapter and not (Path(adapter) / "adapter_config.json").is_file():
        raise EvalInputError(f"no PEFT adapter at {adapter} (adapter_config.json missing): train the "
                             f"{args.model} model with `srl-pipeline main --species {args.species}`, or pass "
                             f"--adapter / --model base")
    return base, adapter


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------
def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def format_summary(m: dict[str, Any]) -> str:
    """The metrics as a few readable lines (what the command prints)."""
    model = m.get("model", {})
    n, k = m["tasks"], m["k"]
    per_task = m.get("per_task", [])
    greedy_ok = sum(1 for t in per_task if t["outcome"] == "success")
    sampled_ok = sum(t.get("sampled_successes", 0) for t in per_task)
    lines = [
        f"srl-pipeline eval: {m.get('species', '?')}, model {model.get('name', '?')}, {n} scenarios "
        f"from {m.get('scenarios_file', '?')}",
        f"  base model         {model.get('base_model')}",
        f"  adapter            {model.get('adapter') or '(none)'}",
        f"  rules              {m.get('rules_version', '?')} (events in force: {', '.join(m.get('events', [])) or 'none'})",
        "",
        f"  success (greedy)   {_pct(m['success_greedy'])}  ({greedy_ok} of {n} scenarios)",
        f"  success (avg@{k})    {_pct(m['success_avg_k'])}  ({sampled_ok} of {n * k} "
        f"sampled plans)" if k else f"  success (avg@k)    — (k = 0)",
    ]
    if m.get("step_examples"):
        lines.append(f"  step similarity    {_num(m['step_similarity'])}   srl reward {_num(m['srl_reward'])}  "
                     f"({m['step_examples']} expert steps)")
    else:
        lines.append("  step similarity    — (no scenario carries expert_steps)")
    lines += [
        f"  format errors      {_pct(m['format_error_rate'])} of {m.get('turns', 0)} greedy turns (plans and expert steps)",
        f"  KL to base         {_num(m['kl_to_base'], 4)} per token",
        "  outcomes           " + ", ".join(f"{o} {c}" for o, c in m["outcomes"].items()),
    ]
    modes = m["weakness"]["top_failure_modes"]
    lines.append("  weakest spots      " + ("none" if not modes else modes[0]))
    lines += [f"                     {x}" for x in modes[1:]]
    lines.append("  per goal (greedy)")
    for goal, g in m["weakness"]["by_goal"].items():
        lines.append(f"    {goal:<18s} {g['tasks']} scenario(s), {_pct(g['success_greedy'])} success")
    lines.append("  per scenario (greedy)")
    for t in m.get("per_task", []):
        detail = f" of {t['violated_rule']}" if t.get("violated_rule") else ""
        lines.append(f"    {t['scenario_id']:<30s} {t['outcome']}{detail} after {t['turns']} step(s)"
                     + (f"; sampled {t['sampled_successes']}/{k} succeed" if k else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------------
def run_eval(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        species = validate_species_name(args.species, "--species")
        profile = _profile()
        artifacts = artifacts_dir(args.artifacts, profile)
        if args.k < 0 or args.max_steps < 1 or args.max_new_tokens < 1 or args.batch_size < 1:
            raise EvalInputError("--k must be >= 0; --max-steps, --max-new-tokens and --batch-size >= 1")
        ruleset = load_ruleset(artifacts, species)
        scenarios = read_scenario_file(args.scenarios, ruleset, species)
        lore, index = load_lore(artifacts, species)
        base_model, adapter = resolve_models(args, artifacts, profile)
    except InputError as e:
        print(f"error: {len(e.problems)} problem(s); nothing was evaluated or written:",
              file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (EvalInputError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from ..evaluation.evaluate import EvalSettings, evaluate_model
    from ..training.base_models import load_model

    passages = int(profile.section("collaboration").get("lore_passages", 6))
    tasks, examples = encounter_tasks(scenarios, ruleset, lore, index, passages)
    settings = EvalSettings(k=args.k, temperature=args.temperature, max_steps=args.max_steps,
                            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                            step_examples=max(64, len(examples)), seed=args.seed)
    print(f"evaluating {species}/{args.model} on {len(tasks)} scenarios ({len(examples)} expert steps) ...",
          file=sys.stderr)
    model, tokenizer = load_model(base_model, adapter, args.device)
    settings.chat = args.prompt_format == "chat" or (
        args.prompt_format == "auto" and bool(getattr(tokenizer, "chat_template", None)))
    reference = load_model(base_model, None, args.device)[0] if adapter else None
    metrics = evaluate_model(model, tokenizer, tasks, ruleset, examples, settings, reference=reference)
    if adapter is None:
        metrics["kl_to_base"] = 0.0  # the base model itself
    metrics.update({
        "species": species, "scenarios_file": str(args.scenarios), "rules_version": ruleset.version,
        "events": sorted(ruleset.events), "lore_passages": passages,
        "model": {"name": args.model, "tier": args.tier, "base_model": base_model, "adapter": adapter},
        "seconds": round(time.monotonic() - started, 2),
    })
    out = args.out or ArtifactLayout(artifacts).eval_result(species, args.model)
    atomic_write_json(Path(out), metrics)
    print(format_summary(metrics))
    print(f"wrote {out} in {metrics['seconds']:.1f} s")
    return 0
