"""Evaluation resources: how models are evaluated on the held-out test split."""

import dagster as dg

from ...evaluation.evaluate import EvalSettings
from ..settings_resource import config_class

EvaluationSettings = config_class(
    EvalSettings, dg.ConfigurableResource, name="EvaluationSettings",
    extra={"kl_bound": (float, 0.1), "encounters_dir": (str, "configs/eval")},
    doc="How models are evaluated on the held-out test split (profile: evaluation): the fields of "
        "evaluation.evaluate.EvalSettings, kl_bound, the quality target for the evaluated models' KL to the base, and encounters_dir, the folder of "
        "the species' hand-written encounters (<species>_encounters.jsonl).")
