"""Profiles and hyperparameter files: the YAML that sets every default (no Dagster); the one loader.

- ``configs/profiles/<name>.yaml``: the deployment profile; ``SRL_PROFILE`` picks one (default
  ``local``); a profile may ``extends:`` another and override keys.
- ``configs/training/<stage>.yaml``: one mapping of hyperparameters per profile name; a profile
  may ``extends: <stage>.<profile>`` (another stage's profile, e.g. RLVR's ``local`` extends
  ``srl.local``) or ``extends: <profile>`` (one of the same file) and override keys.

Every problem is a :class:`~.errors.ConfigError` naming the file and the key: an unknown profile,
a cycle, a malformed file. Nothing falls back silently. Paths in a profile are relative to the
project root unless absolute.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, RootModel

from .errors import ConfigError
from .profile_schema import check_profile_file, secret_problems
from .validation import validate
from .yaml_files import read_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROFILES_DIR = PROJECT_ROOT / "configs" / "profiles"
TRAINING_CONFIG_DIR = PROJECT_ROOT / "configs" / "training"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, nested mappings merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _check_name(name: Any, file: str, key: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError.single(file, key, "<name>", f"invalid {what} name {name!r}")
    return name


def load_profile_dict(name: str, directory: Path = PROFILES_DIR, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A deployment profile with its ``extends:`` chain resolved."""
    path = Path(directory) / f"{_check_name(name, str(directory), name, 'profile')}.yaml"
    if name in _seen:
        raise ConfigError.single(str(path), "extends", "extends", f"profile cycle: {' -> '.join(_seen + (name,))}")
    if not path.is_file():
        known = sorted(p.stem for p in Path(directory).glob("*.yaml"))
        raise ConfigError.single(str(path), name, "<profile>", f"no profile {name!r} (known: {', '.join(known)})")
    data = read_yaml(path, ConfigError)
    check_profile_file(data, str(path))
    parent = data.pop("extends", None)
    if parent:
        data = merge(load_profile_dict(_check_name(parent, str(path), "extends", "profile"), directory,
                                       _seen + (name,)), data)
    return data


@dataclass(frozen=True)
class Profile:
    name: str
    data: dict[str, Any]

    def section(self, key: str) -> dict[str, Any]:
        return dict(self.data.get(key) or {})

    def path(self, value: str) -> str:
        p = Path(value)
        return str(p if p.is_absolute() else PROJECT_ROOT / p)

    def artifacts_root(self) -> Path:
        return Path(self.path(self.section("artifacts").get("base_dir", "artifacts")))

    def artifact_store(self) -> dict[str, str]:
        """The store the artifacts folder mirrors (resource fields; empty strings: none)."""
        section = self.section("artifacts")
        return {"store_uri": section.get("store_uri", ""), "store_endpoint_url": section.get("store_endpoint_url", "")}


PROFILES_DIR_ENV = "SRL_PROFILES_DIR"


def load_profile(name: str | None = None) -> Profile:
    """The profile ``$SRL_PROFILE`` (default ``local``) from ``$SRL_PROFILES_DIR`` (default
    ``configs/profiles``); every file of its ``extends`` chain is checked (:mod:`.profile_schema`)."""
    name = name or os.environ.get("SRL_PROFILE", "local")
    return Profile(name, load_profile_dict(name, Path(os.environ.get(PROFILES_DIR_ENV) or PROFILES_DIR)))


# ------------------------------------------------------------------------------------------------
# Hyperparameter files: configs/training/<stage>.yaml, one mapping per profile; a profile may
# ``extends: <profile>`` (same file) or ``extends: <stage>.<profile>`` (another stage's file) and
# lists only what differs. A job spec carries ``{profile: <name>, ...resolved values}``.
# ------------------------------------------------------------------------------------------------
EXTENDS = "extends"
PROFILE = "profile"


class HyperparameterError(ValueError):
    """A stage file or a job spec's hyperparameters that cannot be resolved (names file and key)."""


def stage_file(stage: str, config_dir: Path = TRAINING_CONFIG_DIR) -> Path:
    """The hyperparameter file of ``stage``; an unknown stage is an error naming the folder."""
    path = Path(config_dir) / f"{stage}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in Path(config_dir).glob("*.yaml"))
        raise HyperparameterError(f"no hyperparameter file for stage {stage!r}: {path} does not exist (have {have})")
    return path


def _scalar_or_list(value: Any) -> Any:
    scalars = (bool, int, float, str, type(None))
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, scalars) for v in items):
        raise ValueError(f"expected a number, string, bool or a list of them, got {type(value).__name__}")
    if any(isinstance(v, float) and not math.isfinite(v) for v in items):
        raise ValueError("expected a finite number")
    return value


class HyperparameterFile(RootModel[dict[str, dict[str, Annotated[Any, AfterValidator(_scalar_or_list)]]]]):
    """The shape of a stage file: profile -> {key: a scalar or a list of scalars}. The keys
    themselves are each stage's dataclass fields (checked by ``Hyperparameters.check_keys``)."""

    model_config = ConfigDict(strict=True)


def _read(path: Path) -> dict[str, Any]:
    """A stage file: read by the one loader, no secrets, the shape of :class:`HyperparameterFile`."""
    data = read_yaml(Path(path), ConfigError)
    secrets = secret_problems(data, str(path))
    if secrets:
        raise ConfigError(secrets)
    validate(HyperparameterFile, data, str(path), ConfigError,
             lambda loc: (str(loc[0]), loc[1:] or ("<profile>",)) if loc else ("<file>", ("<content>",)))
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


def load_stage_hyperparameters(stage: str, profile: str, config_dir: Path = TRAINING_CONFIG_DIR) -> dict[str, Any]:
    """What a job spec carries for ``stage`` under ``profile``: the profile's name and its resolved
    values (so the spec records both, and resolving it again changes nothing)."""
    return {PROFILE: profile, **load_profile_config(profile, stage_file(stage, config_dir))}
