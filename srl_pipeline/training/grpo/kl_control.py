"""The KL bound of every GRPO stage: an adaptive coefficient, its per-step callback, the window check.

The KL (per token, to the reference: the base model, or the SRL adapter for RLVR) is measured at
every step. :class:`AdaptiveKLController` raises beta when it exceeds the target and relaxes it
when far below, and asks for a clean stop (status ``kl_bound_exceeded``) when it stays above
``stop_multiple`` x target for ``patience`` consecutive steps.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

from ..job_runner import STATUS_KL_BOUND

__all__ = ["KL_WINDOW", "AdaptiveKLController", "KLControlCallback", "window_max"]

# The KL bound is checked on the mean of KL_WINDOW consecutive steps. A step's KL is TRL's k3
# estimate on the sampled tokens: one token the policy sampled at low probability but the
# reference likes gives exp(log q - log p) and a one-step spike (seen: 0.58 between steps of 0.05),
# which is estimator noise, not drift; a drift shows in the window mean.
KL_WINDOW = 3


def window_max(values: list[float], window: int) -> float | None:
    """The largest mean of ``window`` consecutive values (of all of them when fewer); None if empty."""
    if not values:
        return None
    w = min(window, len(values))
    return max(sum(values[i - w:i]) / w for i in range(w, len(values) + 1))


class AdaptiveKLController:
    """Keeps the measured KL (per-token, to the reference model) at or below ``target``.

    After each step: the step's KL above target -> beta *= factor (up to beta_max); else the mean KL
    of the last ``KL_WINDOW`` steps below target / 2 -> beta /= factor (down to beta_min, by default
    the initial beta). KL > stop_multiple * target for
    ``patience`` consecutive steps -> status ``kl_bound_exceeded`` (the caller stops cleanly).
    With ``adaptive=False`` beta is fixed but the bound still stops the run.
    """

    def __init__(self, beta: float, target: float = 0.1, factor: float = 1.5, beta_min: float | None = None,
                 beta_max: float = 10.0, stop_multiple: float = 2.0, patience: int = 3, adaptive: bool = True):
        if beta <= 0 or target <= 0 or factor <= 1:
            raise ValueError("beta and target must be > 0 and factor > 1")
        self.beta = float(beta)
        self.target = float(target)
        self.factor = float(factor)
        self.beta_min = float(beta if beta_min is None else beta_min)
        self.beta_max = float(beta_max)
        self.stop_multiple = float(stop_multiple)
        self.patience = int(patience)
        self.adaptive = adaptive
        self.over_streak = 0
        self.status: str | None = None
        self.last_kl: float | None = None
        self.recent: list[float] = []   # the last KL_WINDOW steps' KL

    @classmethod
    def from_hyperparameters(cls, hp: Any) -> "AdaptiveKLController":
        """The controller a stage config (:class:`~..srl_config.SRLHyperparameters`) asks for."""
        return cls(hp.beta, hp.kl_target, hp.kl_adapt_factor, hp.beta_min, hp.beta_max, hp.kl_stop_multiple,
                   hp.kl_stop_patience, adaptive=hp.kl_adaptive)

    def update(self, kl: float | None) -> str | None:
        """Feed one step's KL; returns ``kl_bound_exceeded`` when training must stop."""
        if kl is None or not math.isfinite(kl):
            return self.status
        self.last_kl = float(kl)
        self.recent = (self.recent + [float(kl)])[-KL_WINDOW:]
        if self.adaptive:
            # raise on any step over the target (fast: deciding on the window mean instead let lich's
            # KL window reach 0.108 at SRL step 10), relax when the mean of the last KL_WINDOW steps
            # (the checked statistic) is under half the target: relaxing only when one step fell under
            # target/4 ratcheted beta up on every spike, to 3-6 in 60 SRL steps, which froze learning
            kl_mean = sum(self.recent) / len(self.recent)
            if kl > self.target:
                self.beta = min(self.beta * self.factor, self.beta_max)
            elif kl_mean < self.target / 2:
                self.beta = max(self.beta / self.factor, self.beta_min)
        self.over_streak = self.over_streak + 1 if kl > self.stop_multiple * self.target else 0
        if self.over_streak >= self.patience:
            self.status = STATUS_KL_BOUND
        return self.status

    def state_dict(self) -> dict[str, Any]:
        return {"beta": self.beta, "over_streak": self.over_streak, "status": self.status, "last_kl": self.last_kl,
                "recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.beta = float(state.get("beta", self.beta))
        self.over_streak = int(state.get("over_streak", 0))
        self.status = state.get("status")
        self.last_kl = state.get("last_kl")
        self.recent = [float(v) for v in state.get("recent") or []]


class KLControlCallback(TrainerCallback):
    """After every optimizer step: feed the step's KL to the controller, set the next step's beta,
    stop cleanly on ``kl_bound_exceeded``. Must be registered before the checkpoint trigger so the
    stopping step is checkpointed. ``trainer`` is a :class:`~.trainer.GRPOStageTrainer`."""

    def __init__(self, trainer: Any):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        tr = self.trainer
        window, tr._kl_window = tr._kl_window, []
        kl = sum(window) / len(window) if window else None
        tr._step_kl, tr._step_beta = kl, tr.beta
        if tr.kl_controller is None:
            return control
        status = tr.kl_controller.update(kl)
        tr.beta = tr.kl_controller.beta
        if status == STATUS_KL_BOUND:
            tr.status = STATUS_KL_BOUND
            control.should_training_stop = True
        return control
