"""Which checkpoints a training job may resume: the job's identity, as a checkpoint folder key.

Checkpoints belong to one job: the same dataset, base model, hyperparameters, initial adapter,
max_steps and seed. A restarted (e.g. spot-interrupted) job finds its own folder and resumes; a
changed job gets another folder and starts afresh instead of inheriting another job's optimiser
state. Files are identified by their content (sha256), so a rebuilt but identical dataset or model
keeps the key, and a changed one at the same path does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.hashing import content_hash, file_sha256

__all__ = ["adapter_fingerprint", "checkpoint_key", "file_fingerprint"]


def file_fingerprint(path: Path, fallback: str) -> str:
    """sha256 of the file's bytes, or ``fallback`` (e.g. a hub id) when there is no such file."""
    path = Path(path)
    return file_sha256(path) if path.is_file() else fallback


def adapter_fingerprint(path: str | None) -> str | None:
    """A job that starts from an adapter is a different job when that adapter's weights changed."""
    if not path:
        return path
    return file_fingerprint(Path(path) / "adapter_model.safetensors", path)


def checkpoint_key(dataset: Path, base_model: str, hyperparameters: dict[str, Any], max_steps: int, seed: int,
                   initial_adapter: str | None = None) -> str:
    """16 hex digits naming the job's checkpoint folder (see the module docstring)."""
    hp = {**hyperparameters, "initial_adapter": adapter_fingerprint(initial_adapter)} if initial_adapter \
        else hyperparameters
    return content_hash({
        "dataset": file_fingerprint(Path(dataset), str(dataset)),
        "base_model": file_fingerprint(Path(base_model) / "model.safetensors", base_model),
        "hyperparameters": hp, "max_steps": max_steps, "seed": seed})[:16]
