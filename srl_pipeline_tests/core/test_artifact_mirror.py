"""The local artifact folder as the working copy of a store: what one machine publishes, another
fetches byte for byte; a current copy is not downloaded again; without a store nothing happens."""

from __future__ import annotations

import pytest

from srl_pipeline.core.artifact_mirror import ArtifactMirror
from srl_pipeline.core.artifact_store import ArtifactStore
from srl_pipeline.core.hashing import folder_hash


@pytest.fixture(params=["local", "s3"])
def store_uri(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "store"), ""
    aws = request.getfixturevalue("aws")
    return f"s3://srl-test/mirror-{tmp_path.name}", aws.endpoint


def machine(tmp_path, name, store_uri) -> ArtifactMirror:
    uri, endpoint = store_uri
    return ArtifactMirror.configured(tmp_path / name, uri, endpoint)


def adapter(root, species="zombie", weights=b"w1"):
    folder = root / "srl_adapter" / species
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "metrics.json").write_text('{"status": "completed"}')
    return folder


def test_a_folder_published_on_one_machine_is_fetched_on_another(tmp_path, store_uri):
    a, b = machine(tmp_path, "a", store_uri), machine(tmp_path, "b", store_uri)
    uri = a.publish(adapter(a.root))
    assert "/srl_adapter/zombie/versions/" in uri
    assert b.fetch(b.root / "srl_adapter" / "zombie")
    assert folder_hash(b.root / "srl_adapter" / "zombie") == folder_hash(a.root / "srl_adapter" / "zombie")


def test_a_current_copy_is_kept_and_a_newer_version_replaces_it(tmp_path, store_uri, monkeypatch):
    a, b = machine(tmp_path, "a", store_uri), machine(tmp_path, "b", store_uri)
    a.publish(adapter(a.root))
    target = b.root / "srl_adapter" / "zombie"
    b.fetch(target)
    with monkeypatch.context() as m:
        m.setattr(ArtifactStore, "download_dir", lambda *a, **k: pytest.fail("downloaded a current copy again"))
        assert b.fetch(target)
    a.publish(adapter(a.root, weights=b"w2"))
    b.fetch(target)
    assert (target / "adapter_model.safetensors").read_bytes() == b"w2"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".zombie.")]   # no staging left


def test_a_json_artifact_round_trips_and_a_missing_one_is_left_alone(tmp_path, store_uri):
    a, b = machine(tmp_path, "a", store_uri), machine(tmp_path, "b", store_uri)
    path = a.root / "srl_dataset" / "zombie.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"examples": []}')
    assert a.publish(path).endswith("srl_dataset/zombie.json")
    assert b.fetch(b.root / "srl_dataset" / "zombie.json")
    assert (b.root / "srl_dataset" / "zombie.json").read_text() == '{"examples": []}'
    assert not b.fetch(b.root / "srl_dataset" / "lich.json") and not (b.root / "srl_dataset" / "lich.json").exists()
    assert [p.name for p in b.fetch_files(b.root / "srl_dataset")] == ["zombie.json"]
    a.remove(path)
    assert not machine(tmp_path, "c", store_uri).fetch(tmp_path / "c" / "srl_dataset" / "zombie.json")


def test_without_a_store_nothing_is_published_or_fetched(tmp_path):
    mirror = ArtifactMirror.configured(tmp_path / "a")
    folder = adapter(mirror.root)
    assert not mirror.enabled and mirror.publish(folder) is None and mirror.fetch(folder) is False
    assert not (mirror.root / ".store").exists()


def test_a_path_outside_the_artifact_root_is_refused(tmp_path, store_uri):
    with pytest.raises(ValueError, match="not under the artifact root"):
        machine(tmp_path, "a", store_uri).publish(tmp_path / "elsewhere.json")


def test_a_folder_changed_after_its_fetch_is_fetched_again_once_its_version_is_forgotten(tmp_path, store_uri):
    a, b = machine(tmp_path, "a", store_uri), machine(tmp_path, "b", store_uri)
    a.publish(adapter(a.root))
    target = b.root / "srl_adapter" / "zombie"
    b.fetch(target)
    b.forget_version(target)   # a step is about to replace it (and may die before publishing)
    (target / "adapter_model.safetensors").write_bytes(b"unpublished")
    b.fetch(target)
    assert (target / "adapter_model.safetensors").read_bytes() == b"w1"


def test_a_failure_marker_the_store_no_longer_holds_is_forgotten(tmp_path, store_uri):
    b = machine(tmp_path, "b", store_uri)
    marker = b.root / "srl_adapter" / ".zombie.failed.json"
    marker.parent.mkdir(parents=True)
    marker.write_text('{"error": "an old failure"}')
    assert not b.fetch_or_forget(marker) and not marker.exists()
    local = ArtifactMirror.configured(tmp_path / "c")   # without a store the local file is the truth
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "m.json").write_text("{}")
    assert local.fetch_or_forget(tmp_path / "c" / "m.json")
