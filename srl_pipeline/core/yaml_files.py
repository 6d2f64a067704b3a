"""The one YAML loader: bytes -> UTF-8 -> a mapping, with errors that name the file (and line).

Hostile files are refused before they cost anything: a size cap (read no more than the cap),
aliases bounded (``&a`` / ``*a`` may repeat at most ``MAX_ALIAS_NODES`` nodes in all: a "billion
laughs" file of a few KB would otherwise expand into gigabytes of artifacts), no duplicate keys (YAML silently keeps the last one), a nesting cap (deep ``[[[[`` recursion), and
an optional data root the file must resolve inside (no symlink or ``..`` escape).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent

from .errors import InputError

MAX_YAML_BYTES = 1 << 20  # 1 MiB: the largest shipped game file is 14 KB
MAX_DEPTH = 32
NEWLINE = b"\n"
MAX_ALIAS_NODES = 10_000  # nodes that aliases may repeat, in all (yaml.safe_dump of shared objects uses a few)


class _Refused(yaml.YAMLError):
    """A construct the loader refuses (alias, duplicate key, nesting), with its line."""

    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.problem_mark = mark
        self.message = message

    def __str__(self) -> str:
        return self.message


def _size(node: Any, memo: dict[int, int]) -> int:
    """Nodes under ``node`` as constructed (aliases counted each time they appear)."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a recursive alias counts once
        if isinstance(node, yaml.SequenceNode):
            memo[key] = 1 + sum(_size(n, memo) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] = 1 + sum(_size(k, memo) + _size(v, memo) for k, v in node.value)
    return memo[key]


class SafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader with bounded alias expansion, no duplicate keys, and a nesting cap."""

    _depth = 0
    _repeated = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            anchored = self.anchors.get(event.anchor)
            if anchored is not None:
                if not hasattr(self, "_sizes"):
                    self._sizes: dict[int, int] = {}
                self._repeated += _size(anchored, self._sizes)
                if self._repeated > MAX_ALIAS_NODES:
                    raise _Refused(f"aliases (*{event.anchor}) repeat more than {MAX_ALIAS_NODES} nodes; "
                                   "write the values out", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise ConstructorError(None, None, "mapping keys must be plain values", key_node.start_mark) from None
                if first is not None:
                    raise _Refused(f"duplicate key {key!r} (first on line {first})", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def parse_yaml_text(text: str) -> Any:
    """Parse YAML text with the safe loader (raises yaml.YAMLError / ValueError on bad input)."""
    loader = SafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def decode_yaml(raw: bytes, file: str, error: type[InputError] = InputError,
                max_bytes: int = MAX_YAML_BYTES) -> dict[str, Any]:
    """Parse a YAML mapping from raw bytes; empty, oversized, non-UTF-8 files and non-mappings are errors."""
    if len(raw) > max_bytes:
        raise error.single(file, "<file>", "<size>", f"file is larger than the {max_bytes} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error.single(file, f"line {raw.count(NEWLINE, 0, exc.start) + 1}", "<encoding>",
                           f"invalid UTF-8 at byte {exc.start} ({exc.reason})") from None
    if not text.strip():
        raise error.single(file, "<file>", "<content>", "file is empty")
    try:
        data = parse_yaml_text(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<file>"
        detail = str(exc) if isinstance(exc, _Refused) else f"invalid YAML: {_yaml_reason(exc)}"
        raise error.single(file, where, "<syntax>", detail) from None
    except (ValueError, RecursionError, OverflowError) as exc:  # e.g. an integer of 10^5 digits
        reason = ("a number too long to read (more than 4300 digits)" if "integer string conversion" in str(exc)
                  else _one_line(exc)[:200])
        raise error.single(file, "<file>", "<syntax>", f"invalid YAML value: {reason}") from None
    if not isinstance(data, dict):
        raise error.single(file, "<file>", "<content>", f"expected a mapping at top level, got {type(data).__name__}")
    return data


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """PyYAML's problem (and context) without the echo of the offending text."""
    problem = getattr(exc, "problem", None)
    if not problem:
        return _one_line(exc)[:200]
    context = getattr(exc, "context", None)
    return f"{problem}" + (f" ({context})" if context else "")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def confine(path: Path, root: Path | None, error: type[InputError] = InputError) -> Path:
    """``path`` resolved (symlinks and ``..`` followed); an error when it lands outside ``root``."""
    path = Path(path)
    if root is None:
        return path
    resolved, base = path.resolve(), Path(root).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise error.single(str(path), "<file>", "<path>",
                           f"resolves outside the data root {base} (symlink or '..'); refusing to read it")
    return resolved


def read_capped(path: Path, error: type[InputError] = InputError, max_bytes: int = MAX_YAML_BYTES,
                root: Path | None = None) -> bytes:
    """The bytes of ``path`` (confined to ``root`` when given), never reading more than ``max_bytes`` + 1."""
    real = confine(path, root, error)
    try:
        with open(real, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error.single(str(path), "<file>", "<content>", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise error.single(str(path), "<file>", "<size>", f"file is larger than the {max_bytes} byte limit")
    return raw


def read_yaml(path: Path, error: type[InputError] = InputError, root: Path | None = None,
              max_bytes: int = MAX_YAML_BYTES) -> dict[str, Any]:
    """Read and parse one YAML mapping file (confined to ``root`` when given)."""
    return decode_yaml(read_capped(path, error, max_bytes, root), str(path), error, max_bytes)
