"""Hyperparameters of a training stage: a dataclass filled from a profile of ``configs/training/<stage>.yaml``.

A job spec's ``hyperparameters`` is either a whole profile mapping or ``{profile: <name>,
...overrides}``; unknown keys are an error (a typo must not silently fall back to a default).
Each stage subclasses :class:`Hyperparameters` with its fields, a ``label`` for messages and
its own :meth:`~Hyperparameters.validate`.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml


class Hyperparameters:
    """Mixin for the stages' hyperparameter dataclasses."""

    label: ClassVar[str] = "training"

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        data = {k: v for k, v in dict(data).items() if k != "profile"}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.label} hyperparameter(s) {sorted(unknown)}; known: {sorted(known)}")
        hp = cls(**data)
        hp.validate()
        return hp

    def validate(self) -> None:
        """Raise ValueError on an inconsistent combination (stages override)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_profile_config(profile: str, path: Path) -> dict[str, Any]:
    """The hyperparameters of a profile in ``path`` (top-level key per profile)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if profile not in data or not isinstance(data[profile], dict):
        raise KeyError(f"no training profile {profile!r} in {path} (have {sorted(data)})")
    return dict(data[profile])


def resolve(spec_hp: dict[str, Any] | None, cls: type, path: Path):
    """The spec's hyperparameters over the named profile of ``path`` (``profile`` key, default ``local``)."""
    spec_hp = dict(spec_hp or {})
    base = load_profile_config(spec_hp.get("profile", "local"), path) \
        if "profile" in spec_hp or Path(path).is_file() else {}
    return cls.from_dict({**base, **spec_hp})
