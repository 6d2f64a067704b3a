"""The training job spec: everything one run of the training entrypoint needs, as JSON.

The same spec runs locally (a subprocess launched through Dagster Pipes) and inside a SageMaker
training container (written to the job's input channel), so the two backends cannot drift.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.atomic import atomic_write_json

STAGES = ("srl", "rlvr", "sft", "distill")


@dataclass
class TrainingJobSpec:
    stage: Literal["srl", "rlvr", "sft", "distill"]
    species: str
    tier: str
    base_model: str                       # hub id or local path (loaded with from_pretrained)
    dataset: str                          # path of the stage's dataset artifact (JSON)
    output_dir: str                       # the PEFT adapter and metrics.json are written here
    checkpoint_dir: str                   # spot-safe checkpoints (synced to S3 on SageMaker)
    initial_adapter: str | None = None    # e.g. RLVR starts from the SRL adapter
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    max_steps: int = 20
    seed: int = 0
    checkpoint_every_steps: int = 5
    checkpoint_every_minutes: float = 30.0
    keep_checkpoints: int = 2
    max_runtime_minutes: float | None = None
    teacher_base_model: str | None = None  # distillation: the teacher's base model ...
    teacher_adapter: str | None = None     # ... and its adapter (None: the base itself)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.max_steps < 1 or self.checkpoint_every_steps < 1 or self.keep_checkpoints < 1:
            raise ValueError("max_steps, checkpoint_every_steps and keep_checkpoints must be >= 1")
        if self.stage == "distill" and not self.teacher_base_model:
            raise ValueError("a distill job needs teacher_base_model (and usually teacher_adapter)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> Path:
        atomic_write_json(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> "TrainingJobSpec":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown job spec field(s) {sorted(unknown)}")
        return cls(**data)
