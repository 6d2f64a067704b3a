"""Health checks of the baselines' adapters (the same factory as the production adapters')."""

from ..training.checks import health_checks

EXPERIMENT_CHECKS = [*health_checks("sft_adapter", "sft", kl=False), *health_checks("rlvr_only_adapter", "rlvr_only")]
