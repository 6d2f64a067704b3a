"""The one YAML loader refuses what would cost memory or hide a mistake, naming file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from srl_pipeline.core.errors import InputError
from srl_pipeline.core.yaml_files import MAX_ALIAS_NODES, confine, decode_yaml, read_yaml


def _problem(raw: bytes, **kw) -> str:
    with pytest.raises(InputError) as err:
        decode_yaml(raw, "f.yaml", **kw)
    assert len(err.value.problems) == 1
    return str(err.value)


def test_a_few_aliases_load_and_a_billion_laughs_does_not():
    assert decode_yaml(b"a: &a {x: 1}\nb: *a\nc: *a\n", "f.yaml") == {"a": {"x": 1}, "b": {"x": 1}, "c": {"x": 1}}
    levels = ["l0: &l0 [" + ", ".join(["x"] * 10) + "]"]
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
    message = _problem("\n".join(levels).encode())
    assert f"repeat more than {MAX_ALIAS_NODES} nodes" in message and "record line" in message


def test_duplicate_keys_are_refused_with_both_lines():
    assert "f.yaml: record line 3: field <syntax>: duplicate key 'b' (first on line 2)" in _problem(b"a: 1\nb: 2\nb: 3\n")
    assert "duplicate key 'x'" in _problem(b"outer:\n  x: 1\n  x: 2\n")


def test_nesting_size_tags_and_numbers_are_bounded():
    assert "nesting deeper than" in _problem(b"a: " + b"[" * 100 + b"]" * 100)
    assert "larger than the 10 byte limit" in _problem(b"a: 12345678901", max_bytes=10)
    assert "could not determine a constructor" in _problem(b"a: !!python/object/apply:os.system [ls]\n")
    assert "a number too long to read" in _problem(b"a: " + b"9" * 10_000)


def test_encoding_and_shape_problems_name_the_line():
    assert "record line 2: field <encoding>: invalid UTF-8 at byte 8" in _problem(b"a: 1\nb: \xff\n")
    assert "file is empty" in _problem(b"  \n")
    assert "expected a mapping at top level, got list" in _problem(b"- a\n")


def test_read_yaml_confines_the_file_to_its_root(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside.yaml"
    root.mkdir()
    outside.write_text("a: 1\n")
    (root / "inside.yaml").write_text("a: 2\n")
    os.symlink(outside, root / "link.yaml")
    assert read_yaml(root / "inside.yaml", root=root) == {"a": 2}
    for escape in (root / "link.yaml", root / ".." / "outside.yaml"):
        with pytest.raises(InputError, match="resolves outside the data root"):
            read_yaml(escape, root=root)
    assert read_yaml(root / "link.yaml") == {"a": 1}  # without a root nothing is confined
    assert confine(root / "inside.yaml", root) == (root / "inside.yaml").resolve()


def test_read_yaml_reads_no_more_than_the_cap(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * 5000)
    with pytest.raises(InputError, match="larger than the 100 byte limit"):
        read_yaml(big, max_bytes=100)
