"""The artifact store: the same atomic folder publish on a local disk and on S3 (moto on loopback)."""

from __future__ import annotations

import pytest

from srl_pipeline.core.artifact_store import ArtifactNotFound, ArtifactStore


def folder(path, **files):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (path / name.replace("__", "/")).write_text(text)
    return path


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "store"))
    aws = request.getfixturevalue("aws")
    return ArtifactStore(f"s3://srl-test/store-{tmp_path.name}", {"endpoint_url": aws.endpoint})


def test_a_published_folder_is_read_back_exactly(store, tmp_path):
    uri = store.publish_dir(folder(tmp_path / "v1", a="1", sub__b="2"), "adapters", "srl", "zombie")
    pointer = store.current("adapters", "srl", "zombie")
    assert pointer["uri"] == uri and set(pointer["files"]) == {"a", "sub/b"}
    out = store.fetch_dir(tmp_path / "out", "adapters", "srl", "zombie")
    assert (out / "a").read_text() == "1" and (out / "sub" / "b").read_text() == "2"


def test_a_reader_sees_the_old_version_until_the_pointer_is_written(store, tmp_path, monkeypatch):
    store.publish_dir(folder(tmp_path / "v1", a="old"), "x")
    original = store.write_bytes

    def crash_before_pointer(data, *parts):
        raise OSError("killed while publishing")

    monkeypatch.setattr(store, "write_bytes", crash_before_pointer)
    with pytest.raises(OSError):
        store.publish_dir(folder(tmp_path / "v2", a="new", extra="half"), "x")
    monkeypatch.setattr(store, "write_bytes", original)
    out = store.fetch_dir(tmp_path / "out", "x")
    assert (out / "a").read_text() == "old" and not (out / "extra").exists()


def test_a_content_keyed_version_is_published_once_and_nothing_is_a_clear_error(store, tmp_path):
    first = store.publish_dir(folder(tmp_path / "v1", a="1"), "inputs", version="abc")
    assert store.publish_dir(tmp_path / "v1", "inputs", version="abc") == first
    with pytest.raises(ArtifactNotFound, match="nothing published under never/written"):
        store.current("never", "written")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        store.publish_dir(tmp_path / "missing", "y")
