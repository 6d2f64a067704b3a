"""Dagster config classes made from the domain's settings dataclasses: one declaration of each
setting (the dataclass, with its default and type), no field-by-field copy in the Dagster layer.

``config_class(Spec, dg.ConfigurableResource)`` gives a resource class whose fields are the
dataclass's; ``instance.to_settings()`` builds the dataclass by keyword.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import Field


def _to_settings(self) -> Any:
    cls = type(self).__settings_class__
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: getattr(self, k) for k in names if k in type(self).model_fields}
    for k, v in values.items():  # nested config (e.g. a collaboration role) -> its dataclass
        if hasattr(v, "to_settings"):
            values[k] = v.to_settings()
    return cls(**values)


def config_class(settings: type, base: type, *, name: str, doc: str, exclude: tuple[str, ...] = (),
                 types: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> type:
    """A ``base`` subclass (``dg.Config`` or ``dg.ConfigurableResource``) with one field per field
    of the dataclass ``settings`` (minus ``exclude``; ``types`` overrides a field's type, e.g. a
    nested config class), plus ``extra`` {name: (type, default)} fields that only the Dagster layer
    has (a cache folder, a secret from the environment)."""
    hints = typing.get_type_hints(settings)
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__doc__": doc, "__module__": _caller_module(),
                                 "__settings_class__": settings, "to_settings": _to_settings}
    for f in dataclasses.fields(settings):
        if f.name in exclude:
            continue
        annotations[f.name] = (types or {}).get(f.name, hints[f.name])
        if f.default is not dataclasses.MISSING:
            namespace[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            factory = f.default_factory
            nested = (types or {}).get(f.name)
            namespace[f.name] = Field(default_factory=nested if nested is not None else factory)
    for key, (typ, default) in (extra or {}).items():
        annotations[key] = typ
        namespace[key] = default
    namespace["__annotations__"] = annotations
    return type(name, (base,), namespace)


def _caller_module() -> str:
    import inspect

    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame and frame.f_back else None
    return caller.f_globals.get("__name__", __name__) if caller else __name__
