"""Validation of keys that become paths and partition keys (species names, ids)."""

from __future__ import annotations

import re

from .errors import GameDataError

SPECIES_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_species_name(name: object, source: str = "<species>") -> str:
    """Return `name` if it is a plain identifier safe to use as a path and partition key."""
    if not isinstance(name, str) or not SPECIES_NAME.match(name):
        raise GameDataError.single(
            source, repr(name), "species",
            "species name must match ^[a-z][a-z0-9_]{0,39}$ (lower-case identifier, no path separators)",
        )
    return name
