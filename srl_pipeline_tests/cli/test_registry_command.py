"""`srl-pipeline registry list|approve|rollback` on the profile's (local) registry."""

from __future__ import annotations

import pytest

from srl_pipeline.cli import main
from srl_pipeline.core.profiles import Profile
from srl_pipeline.registry import PENDING
from srl_pipeline.registry.local import LocalRegistry
from srl_pipeline_tests.registry.conftest import candidate


@pytest.fixture
def registry(tmp_path, monkeypatch):
    import srl_pipeline.cli.registry_command as command

    profile = Profile("t", {"artifacts": {"base_dir": str(tmp_path)}, "registry": {"backend": "local"}})
    real = command.profile_registry
    monkeypatch.setattr(command, "profile_registry", lambda: real(profile))   # the profile's factory, on tmp
    return LocalRegistry(tmp_path / "registry")


def test_list_approve_and_rollback(registry, capsys):
    registry.register(candidate(species="lich", tier="silver", success=0.5))
    registry.register(candidate(species="lich", tier="silver", success=0.7), status=PENDING)
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "lich/silver: production v1" in out and "PendingManualApproval" in out
    assert "lineage: lore lore123, rules rules456, teacher bronze v1, trajectories traj789" in out
    assert main(["registry", "approve", "--species", "lich", "--tier", "silver", "--version", "2"]) == 0
    assert "production v2" in capsys.readouterr().out
    assert main(["registry", "rollback", "--species", "lich", "--tier", "silver"]) == 0
    assert "production is v1 again" in capsys.readouterr().out
    assert registry.production("lich", "silver").version == 1


def test_a_refused_operation_is_one_line_and_exit_2(registry, capsys):
    registry.register(candidate(species="lich", tier="gold"))
    assert main(["registry", "rollback", "--species", "lich", "--tier", "gold"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "previous approved version" in err and "Traceback" not in err
    assert main(["registry", "approve", "--species", "lich", "--tier", "gold", "--version", "9"]) == 2
    assert "no version 9" in capsys.readouterr().err
