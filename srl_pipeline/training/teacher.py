"""Which Bronze teaches the cascade tonight: the current one when it is healthy, otherwise the last
registered one (the stale-Bronze fallback, DESIGN.md §5: a Bronze failure must not stop the cascade).

Bronze is unhealthy when its latest training attempt failed (the training asset leaves a failure
marker beside the adapter; the previous good adapter stays in place) or when its own health gates
fail on its metrics (not completed, a non-finite loss, the KL to its reference above the bound:
the conditions of its blocking checks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["NoTeacher", "TeacherChoice", "adapter_problems", "choose_bronze"]


class NoTeacher(RuntimeError):
    """Bronze is unhealthy and no Bronze is registered: there is nothing to distil from."""


@dataclass(frozen=True)
class TeacherChoice:
    base_model: str
    adapter: str
    adapter_version: str
    stale: bool                 # True: the fallback (the last registered Bronze), not the current one
    registry_version: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def adapter_problems(adapter_dir: Path, metrics: dict[str, Any] | None, kl_bound: float,
                     failure: dict[str, Any] | None) -> list[str]:
    """Why an adapter must not teach (empty: healthy)."""
    problems = []
    if failure:
        problems.append(f"its latest training failed: {failure.get('error', 'unknown error')}")
    if not (Path(adapter_dir) / "adapter_model.safetensors").is_file() or metrics is None:
        return problems + [f"no trained adapter at {adapter_dir}"]
    if metrics.get("status") != "completed":
        problems.append(f"training status {metrics.get('status')!r}")
    losses = [h.get("loss") for h in metrics.get("history", []) if h.get("loss") is not None]
    if any(not math.isfinite(x) for x in losses):
        problems.append("a logged loss is not finite")
    kl = metrics.get("kl_window_max")
    if kl is not None and kl > kl_bound:
        problems.append(f"KL to its reference {kl:.4g} above the bound {kl_bound}")
    return problems


def choose_bronze(current: dict[str, Any], problems: list[str], registered: Any | None) -> TeacherChoice:
    """``current``: base_model, adapter, adapter_version of the Bronze on disk; ``registered``: the
    registry's production Bronze (a ModelVersion) or None."""
    if not problems:
        return TeacherChoice(current["base_model"], current["adapter"], current["adapter_version"], False,
                             registered.version if registered is not None
                             and registered.adapter_version == current["adapter_version"] else None,
                             "the current Bronze (SRL -> RLVR) is healthy")
    why = "; ".join(problems)
    if registered is None:
        raise NoTeacher(f"Bronze is unhealthy ({why}) and no Bronze is registered yet: nothing to distil from")
    return TeacherChoice(registered.base_model, registered.adapter_uri, registered.adapter_version, True,
                         registered.version, f"stale Bronze: the current one is unhealthy ({why}); distilling from "
                                             f"the last registered Bronze, v{registered.version}")
