"""The processes of one training job: one (a plain ``python -m``) or several (``torchrun``).

Under ``torchrun`` every rank runs the same entrypoint; transformers/accelerate set up the process
group from the ``WORLD_SIZE``/``RANK``/``MASTER_*`` variables torchrun exports (gloo on CPU, NCCL on
GPUs). The job runner needs three things from it, and this module gives them the same shape in a
single process (where they are no-ops), so the runner has no ``if world_size > 1`` scattered in it:

- who writes (:attr:`Processes.is_main`: checkpoints, the adapter, validation, ``metrics.json``,
  the progress events);
- :meth:`Processes.barrier`: a rank that needs a file another rank writes waits for it;
- :meth:`Processes.agree`: a decision taken from a clock (time limit, save every N minutes) is
  rank 0's on every rank, so no rank enters a collective (a checkpoint's writers) the others skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


def world_size_from_env(env: Mapping[str, str] = os.environ) -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(env.get("WORLD_SIZE", "1") or 1)


def rank_from_env(env: Mapping[str, str] = os.environ) -> int:
    """This process's global rank (0 outside torchrun)."""
    return int(env.get("RANK", "0") or 0)


@dataclass
class Processes:
    """The job's processes, as the runner sees them; see the module docstring."""

    world_size: int = 1
    rank: int = 0
    _state: Any = None

    @classmethod
    def from_env(cls) -> "Processes":
        """Join the process group torchrun describes (set up once, through accelerate's shared
        ``PartialState``, the same one the Trainer uses later); one process: nothing to join."""
        world_size = world_size_from_env()
        if world_size <= 1:
            return cls()
        import torch
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())
        return cls(world_size=state.num_processes, rank=state.process_index, _state=state)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Every rank waits here for the others (the process group's timeout, transformers'
        ``ddp_timeout``, 30 min by default, bounds the wait)."""
        if self._state is not None:
            self._state.wait_for_everyone()

    def agree(self, flags: Sequence[bool]) -> list[bool]:
        """Rank 0's ``flags`` on every rank (a collective: every rank must call it at the same point)."""
        if self._state is None:
            return [bool(f) for f in flags]
        import torch
        import torch.distributed as dist

        t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64, device=self._state.device)
        dist.broadcast(t, src=0)
        return [bool(v) for v in t.tolist()]

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (picklable) on every rank."""
        if self._state is None:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._state.device)
        return box[0]
