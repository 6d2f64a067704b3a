"""Distillation resources: how Bronze's traces are gathered and how long the students train."""

import dagster as dg
from pydantic import Field


class DistillationSettings(dg.ConfigurableResource):
    """The cascade's settings (profile: distillation)."""

    fresh_scenarios: int = Field(default=20, ge=0, description="new train-split scenarios Bronze plays besides the train split")
    sampled_plays: int = Field(default=1, ge=0, description="sampled plays per scenario besides the greedy one")
    play_temperature: float = 1.0
    min_trace_score: float = Field(default=0.7, description="the verifier's score a successful play needs to be kept")
    max_steps: int = Field(default=12, ge=1, description="a student's steps from scratch (warm start + on-policy)")
    incremental_max_steps: int = Field(default=4, ge=1, description="steps of a run warm-started from the previous student")
    incremental: bool = Field(default=True, description="warm-start from the student's previous adapter when there is one")
    keep_share: dict[str, float] = Field(default_factory=lambda: {"silver": 0.95, "gold": 0.90},
                                         description="each student's greedy test success as a share of Bronze's that the "
                                                     "evaluation's students_keep_bronzes_success check expects")
