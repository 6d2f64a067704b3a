"""Profiles and hyperparameter files: the YAML that sets every default (no Dagster).

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

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
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


def load_profile(name: str | None = None) -> Profile:
    name = name or os.environ.get("SRL_PROFILE", "local")
    return Profile(name, load_profile_dict(name))


def load_stage_profile(stage: str, profile: str, directory: Path = TRAINING_CONFIG_DIR,
                       _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The hyperparameters of ``profile`` in ``<directory>/<stage>.yaml``, ``extends`` resolved."""
    path = Path(directory) / f"{_check_name(stage, str(directory), stage, 'training stage')}.yaml"
    ref = f"{stage}.{profile}"
    if ref in _seen:
        raise ConfigError.single(str(path), profile, "extends", f"hyperparameter profile cycle: {' -> '.join(_seen + (ref,))}")
    if not path.is_file():
        known = sorted(p.stem for p in Path(directory).glob("*.yaml"))
        raise ConfigError.single(str(path), stage, "<stage>", f"no training stage {stage!r} (known: {', '.join(known)})")
    data = read_yaml(path, ConfigError)
    if profile not in data:
        raise ConfigError.single(str(path), profile, "<profile>",
                                 f"no hyperparameter profile {profile!r} (known: {', '.join(sorted(map(str, data)))})")
    section = data[profile]
    if not isinstance(section, dict):
        raise ConfigError.single(str(path), profile, "<profile>", "a hyperparameter profile is a mapping")
    section = dict(section)
    parent = section.pop("extends", None)
    if parent is None:
        return section
    if not isinstance(parent, str):
        raise ConfigError.single(str(path), profile, "extends", f"expected '<stage>.<profile>' or '<profile>', got {parent!r}")
    parent_stage, _, parent_profile = parent.rpartition(".")
    return {**load_stage_profile(parent_stage or stage, parent_profile, directory, _seen + (ref,)), **section}
