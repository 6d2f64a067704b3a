"""Hyperparameters of a training stage: one loader for ``configs/training/<stage>.yaml``.

File scheme (every stage file follows it):

- one top-level mapping per profile (``local``, ``aws``, ``test``, ...);
- a profile may start from another with ``extends: <profile>`` (same file) or
  ``extends: <stage>.<profile>`` (another stage's file in the same folder, e.g. RLVR's
  ``local: {extends: srl.local, ...}``); its own keys then override the inherited ones, so a
  profile lists only what differs. Chains are followed; a cycle is an error.

A job spec's ``hyperparameters`` is ``{profile: <name>, ...overrides}``. There is no implicit
profile: a mapping that names none is an error (the Dagster resource passes the resolved profile
*and* its name, so the spec records both). An unknown stage, profile or key is an error that names
the file and the key: a typo must never fall back to a default silently.

Each stage subclasses :class:`Hyperparameters` with its fields (a dataclass beside its trainer,
e.g. :mod:`.srl_config`), a ``label`` for messages and its own :meth:`~Hyperparameters.validate`.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "training"
EXTENDS = "extends"
PROFILE = "profile"


class HyperparameterError(ValueError):
    """A stage file or a job spec's hyperparameters that cannot be resolved (names file and key)."""


class Hyperparameters:
    """Mixin for the stages' hyperparameter dataclasses."""

    label: ClassVar[str] = "training"

    @classmethod
    def check_keys(cls, keys: Any, source: str) -> None:
        """Raise when ``keys`` holds a name that is not a field; ``source`` says where they came from."""
        known = {f.name for f in fields(cls)}
        unknown = set(keys) - known - {PROFILE}
        if unknown:
            raise HyperparameterError(f"unknown {cls.label} hyperparameter(s) {sorted(unknown)} in {source}; "
                                      f"known: {sorted(known)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the hyperparameters"):
        data = {k: v for k, v in dict(data).items() if k != PROFILE}
        cls.check_keys(data, source)
        hp = cls(**data)
        hp.validate()
        return hp

    def validate(self) -> None:
        """Raise ValueError on an inconsistent combination (stages override)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_file(stage: str, config_dir: Path = CONFIG_DIR) -> Path:
    """The hyperparameter file of ``stage``; an unknown stage is an error naming the folder."""
    path = Path(config_dir) / f"{stage}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in Path(config_dir).glob("*.yaml"))
        raise HyperparameterError(f"no hyperparameter file for stage {stage!r}: {path} does not exist (have {have})")
    return path


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise HyperparameterError(f"{path}: expected one top-level mapping per profile")
    return data


def load_profile_config(profile: str, path: Path, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved hyperparameters of ``profile`` in ``path`` (``extends`` followed, see module doc)."""
    path = Path(path)
    where = f"{path.name}:{profile}"
    if where in _seen:
        raise HyperparameterError(f"{path}: 'extends' cycle {' -> '.join(_seen + (where,))}")
    data = _read(path)
    if profile not in data or not isinstance(data[profile], dict):
        raise HyperparameterError(f"{path}: no profile {profile!r} (have {sorted(data)})")
    own = dict(data[profile])
    parent = own.pop(EXTENDS, None)
    if parent is None:
        return own
    if not isinstance(parent, str) or not parent:
        raise HyperparameterError(f"{path}: profile {profile!r}: key {EXTENDS!r} must name a profile, got {parent!r}")
    stage, _, name = parent.rpartition(".")
    base_path = stage_file(stage, path.parent) if stage else path
    return {**load_profile_config(name, base_path, _seen + (where,)), **own}


def profile_names(path: Path) -> list[str]:
    return sorted(_read(Path(path)))


def resolve(spec_hp: dict[str, Any] | None, cls: type, path: Path):
    """The job spec's ``{profile: <name>, ...overrides}`` as a ``cls`` instance: the profile of
    ``path``, then the overrides. Unknown keys name the file (profile keys) or the spec (overrides)."""
    spec_hp = dict(spec_hp or {})
    if PROFILE not in spec_hp:
        raise HyperparameterError(
            f"the job's {cls.label} hyperparameters name no {PROFILE!r} (keys {sorted(spec_hp)}); give "
            f"{{{PROFILE}: <one of {profile_names(path)} in {path}>, ...overrides}}")
    profile = spec_hp.pop(PROFILE)
    base = load_profile_config(profile, path)
    cls.check_keys(base, f"{path} (profile {profile!r})")
    cls.check_keys(spec_hp, "the job spec's hyperparameters")
    return cls.from_dict({**base, **spec_hp})


def load_stage_hyperparameters(stage: str, profile: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """What a job spec carries for ``stage`` under ``profile``: the profile's name and its resolved
    values (so the spec records both, and resolving it again changes nothing)."""
    return {PROFILE: profile, **load_profile_config(profile, stage_file(stage, config_dir))}
