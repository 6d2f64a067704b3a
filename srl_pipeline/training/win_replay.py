"""The buffer of verified wins: self-imitation on the policy's own successful plans (RLVR) and on
its own sampled steps that made the expert's decision (SRL, :class:`~.srl_trainer.SRLTrainer`: a
win of one turn, keyed by its prompt).

Why: on the embedded default a group of four sampled plans rarely holds a win (ghoul, lich and
zombie played none in 20 RLVR steps), so GRPO's outcome reward gives almost no signal, and what
signal it gives is spent once. Every plan the simulator accepts as a success is kept here (one
copy per scenario and plan) and a few are replayed at each step as extra training rows with a fixed
positive advantage: on the first pass of a batch the policy-gradient term of such a row is the
log-likelihood of the model's own winning turns (rejection-sampled fine-tuning / expert
iteration, as in ReST-EM, arXiv 2312.06585; self-imitation learning, arXiv 1806.05635). Only the
simulator's verdict selects a plan; no expert plan enters the buffer. The KL term to the reference
still applies to replayed rows, so the adaptive KL bound holds them in check too.

A search before the first step (``search_samples`` plans per train scenario, sampled, by default
with the action call on the menu as a game engine offers it) fills the buffer so that species
whose groups never win still have wins to learn from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = ["Win", "WinsBuffer"]


@dataclass(frozen=True)
class Win:
    """One verified winning plan: its train scenario and every turn as (prompt, completion token ids)."""

    task: int
    plan: tuple[str, ...]
    turns: tuple[tuple[str, tuple[int, ...]], ...]

    def to_record(self) -> dict[str, Any]:
        return {"task": self.task, "plan": list(self.plan), "turns": [[p, list(ids)] for p, ids in self.turns]}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Win":
        return cls(int(rec["task"]), tuple(rec["plan"]), tuple((str(p), tuple(int(i) for i in ids))
                                                              for p, ids in rec["turns"]))


class WinsBuffer:
    """Verified wins, deduplicated by (scenario, plan), oldest first, at most ``capacity`` kept."""

    def __init__(self, capacity: int = 2048):
        self.capacity = capacity
        self._wins: dict[tuple[int, tuple[str, ...]], Win] = {}

    def __len__(self) -> int:
        return len(self._wins)

    def add(self, rollouts: Iterable[Any], task: int | None = None) -> int:
        """Keep the successful ``rollouts`` (``PlanRollout``) played on train scenario ``task``
        (default: each rollout's ``task_index``); returns how many were new."""
        return sum(self.add_win(Win(int(ro.task_index if task is None else task), tuple(ro.plan),
                                    tuple((t.prompt, tuple(t.completion_ids)) for t in ro.turns)))
                   for ro in rollouts if ro.success)

    def add_win(self, win: Win) -> bool:
        """Keep ``win`` unless the same (task, plan) is kept already; the oldest go past ``capacity``."""
        key = (win.task, win.plan)
        if key in self._wins:
            return False
        self._wins[key] = win
        while len(self._wins) > self.capacity:
            self._wins.pop(next(iter(self._wins)))
        return True

    def sample(self, n: int, rng: random.Random) -> list[Win]:
        """``n`` wins drawn without replacement (all of them when there are fewer), spread over
        scenarios: each draw picks a scenario first, so one easy scenario's many plans do not crowd
        the rest out."""
        by_task: dict[int, list[Win]] = {}
        for w in self._wins.values():
            by_task.setdefault(w.task, []).append(w)
        picked: list[Win] = []
        while len(picked) < n and by_task:
            task = rng.choice(sorted(by_task))
            pool = by_task[task]
            picked.append(pool.pop(rng.randrange(len(pool))))
            if not pool:
                del by_task[task]
        return picked

    def scenarios(self) -> int:
        return len({w.task for w in self._wins.values()})

    def state(self) -> list[dict[str, Any]]:
        return [w.to_record() for w in self._wins.values()]

    def load_state(self, records: Sequence[dict[str, Any]] | None) -> None:
        self._wins = {}
        for rec in records or ():
            w = Win.from_record(rec)
            self._wins[(w.task, w.plan)] = w
