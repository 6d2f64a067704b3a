"""What the benchmarks that replay a main run read: one species' Bronze base, one of its adapters and
its SRL dataset under ``artifacts/`` (run ``make main`` first), with the command-line options that
choose them."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def add_arguments(ap: argparse.ArgumentParser, species: str) -> None:
    ap.add_argument("--species", default=species)
    ap.add_argument("--adapter", default="srl_adapter", help="the adapter asset folder under artifacts/")
    ap.add_argument("--artifacts", default=str(REPO / "artifacts"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)


def add_play_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of the benchmarks that replay RLVR's sampled search."""
    ap.add_argument("--scenarios", type=int, default=16, help="train scenarios the sampled search plays")
    ap.add_argument("--k", type=int, default=4, help="sampled plans per scenario")


def alternate(play: Callable[[Hashable], tuple[dict[str, float], dict[str, Any]]], arms: Sequence[Hashable],
              repeats: int) -> tuple[dict[Hashable, dict[str, float]], dict[Hashable, dict[str, Any]]]:
    """Run ``play(arm)`` (-> seconds and results per workload) for every arm in turn, ``repeats``
    times, in this one process: the median seconds per arm and workload, and each arm's last results."""
    seconds: dict[Hashable, dict[str, list[float]]] = {arm: {} for arm in arms}
    results: dict[Hashable, dict[str, Any]] = {}
    for _ in range(repeats):
        for arm in arms:
            secs, results[arm] = play(arm)
            for name, value in secs.items():
                seconds[arm].setdefault(name, []).append(value)
    return {arm: {name: statistics.median(v) for name, v in per.items()} for arm, per in seconds.items()}, results


@dataclass(frozen=True)
class SpeciesRun:
    base: Path
    adapter: Path
    data: dict[str, Any]      # the srl_dataset artifact
    ruleset: Any

    def plan_tasks(self, split: str) -> list:
        from srl_pipeline.training.plan_rollout import PlanTask

        return [PlanTask.from_record(r, self.ruleset) for r in self.data["plan_tasks"] if r["split"] == split]

    def examples(self, split: str) -> list[dict[str, Any]]:
        return [e for e in self.data["examples"] if e["split"] == split]

    def trainable_model(self) -> tuple[Any, Any]:
        """The base with the adapter loaded trainable and unmerged, as a training job holds it; and the tokenizer."""
        from peft import PeftModel

        from srl_pipeline.training.base_models import load_base_model

        base, tokenizer = load_base_model(str(self.base))
        return PeftModel.from_pretrained(base, str(self.adapter), is_trainable=True), tokenizer


def load_species_run(args: argparse.Namespace) -> SpeciesRun | None:
    """The species' artifacts the options name, or None (after saying which is missing)."""
    from srl_pipeline.game.rules import ruleset_from_artifact

    root = Path(args.artifacts)
    base, adapter = root / "base_models" / "bronze", root / args.adapter / args.species
    dataset = root / "srl_dataset" / f"{args.species}.json"
    for path in (base, adapter, dataset):
        if not path.exists():
            print(f"{path}: missing; run `make main` first", file=sys.stderr)
            return None
    data = json.loads(dataset.read_text(encoding="utf-8"))
    return SpeciesRun(base, adapter, data, ruleset_from_artifact(data["rules"]))
