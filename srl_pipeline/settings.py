"""Profiles: the YAML files in configs/profiles/ that set every default (no Dagster).

`SRL_PROFILE` picks one (default `local`); a profile may `extends:` another and override keys.
Paths in a profile are relative to the project root unless absolute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROFILES_DIR = PROJECT_ROOT / "configs" / "profiles"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_profile_dict(name: str, directory: Path = PROFILES_DIR, _seen: tuple = ()) -> dict[str, Any]:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"invalid profile name {name!r}")
    if name in _seen:
        raise ValueError(f"profile {name!r} extends itself")
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no profile {name!r} at {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile is a mapping")
    parent = data.pop("extends", None)
    if parent:
        data = _merge(load_profile_dict(parent, directory, _seen + (name,)), data)
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


def load_profile(name: str | None = None) -> Profile:
    name = name or os.environ.get("SRL_PROFILE", "local")
    return Profile(name, load_profile_dict(name))
