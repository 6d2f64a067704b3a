"""`srl-pipeline eval`: bad scenario files are refused (exit 2, file/line/field named, nothing
written); a good file runs end to end on a tiny model and writes the metrics JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from srl_pipeline.core.atomic import atomic_write_json  # noqa: E402
from srl_pipeline.cli import main  # noqa: E402
from srl_pipeline.game.lore_index import LoreIndex  # noqa: E402
from srl_pipeline.game.rules import ruleset_to_artifact  # noqa: E402
from srl_pipeline.game.sources import FileLoreSource, GameFiles  # noqa: E402
from srl_pipeline_tests.evaluation.helpers import (  # noqa: E402,F401
    GAME_ROOT, METRIC_KEYS, tiny_adapter_dir, vampire_ruleset,
)

GOOD = {"id": "v1", "goal": "drive_off", "state": {"location": "forest", "time": "night", "player_resolve": 2}}
STEP1 = '1. **Whisper from the dark** whisper_from_shadows(target=player) | "Turn back, traveller, the night is mine."'
TINY_ARGS = ["--k", "2", "--max-steps", "2", "--max-new-tokens", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """The game_rules, monster_lore and lore_index artifacts of the vampire, made by the same
    builders the assets use, from configs/game."""
    root = tmp_path_factory.mktemp("artifacts")
    atomic_write_json(root / "game_rules" / "vampire.json", ruleset_to_artifact(vampire_ruleset()))
    lore = FileLoreSource(GameFiles(GAME_ROOT)).load("vampire")
    atomic_write_json(root / "monster_lore" / "vampire.json",
                      {"species": "vampire", "lore_hash": lore.content_hash, "source": lore.source,
                       "passages": lore.to_records()})
    atomic_write_json(root / "lore_index" / "vampire.json", LoreIndex.build(lore).to_dict())
    return root


def _write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _run(scenarios: Path, artifacts: Path, *extra: str) -> int:
    return main(["eval", "--scenarios", str(scenarios), "--species", "vampire", "--artifacts", str(artifacts),
                 *TINY_ARGS, *extra])


@pytest.mark.parametrize("line2, field, words", [
    ('{"id": "v2", "goal": "drive_off", "state": {"location": "forest"', "<json>", "invalid JSON"),
    ({"id": "v2", "goal": "seduce", "state": {}}, "goal", "unknown goal 'seduce'"),
    ({"id": "v2", "goal": "drive_off", "state": {"mood": "grim"}}, "state.mood", "unknown state variable"),
], ids=["json_syntax", "unknown_goal", "unknown_state_variable"])
def test_bad_file_exits_2_naming_file_line_field(tmp_path, artifacts, capsys, line2, field, words):
    bad = _write(tmp_path / "bad.jsonl", [GOOD, line2, ""])
    out = tmp_path / "metrics.json"
    assert _run(bad, artifacts, "--base-model", str(tmp_path / "unused"), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert f"{bad}: record line 2: field {field}: " in err and words in err, err
    assert "line 1" not in err
    assert not out.exists() and not (artifacts / "eval").exists()


def test_every_problem_is_reported_and_blank_lines_keep_numbers(tmp_path, artifacts, capsys):
    bad = _write(tmp_path / "bad.jsonl", [
        GOOD, "", {"id": "v1", "goal": "drive_off", "state": {"time": "noon"}},
        {"id": "v3", "goal": "drive_off", "state": {}, "expert_steps": ["1. not a step"]}, "[1, 2]"])
    assert _run(bad, artifacts, "--base-model", "unused") == 2
    err = capsys.readouterr().err
    assert f"{bad}: record line 3: field state.time: invalid value 'noon'" in err
    assert f"{bad}: record line 3: field id: duplicate id 'v1' (first on line 1)" in err
    assert f"{bad}: record line 4: field expert_steps[0]: " in err
    assert f"{bad}: record line 5: field <record>: expected a JSON object" in err


def test_missing_rules_artifact_says_run_main(tmp_path, capsys):
    good = _write(tmp_path / "good.jsonl", [GOOD])
    assert _run(good, tmp_path / "empty_artifacts", "--base-model", "unused") == 2
    err = capsys.readouterr().err
    assert "no game rules for species 'vampire'" in err and "srl-pipeline main" in err
    assert not (tmp_path / "empty_artifacts").exists()


def test_missing_scenario_file_exits_2(tmp_path, artifacts, capsys):
    absent = tmp_path / "absent.jsonl"
    assert _run(absent, artifacts, "--base-model", "unused") == 2
    assert capsys.readouterr().err == f"error: {absent}: no such scenario file\n"


def test_model_and_tier_choices():
    from srl_pipeline.cli.eval_command import MODELS, TIERS

    assert MODELS == ("gold", "silver", "srl_rlvr", "srl", "base", "sft", "rlvr_only")
    assert TIERS == ("bronze", "silver", "gold")


def test_good_file_end_to_end(tmp_path, artifacts, tiny_model_dir, tiny_adapter_dir, capsys):
    good = _write(tmp_path / "good.jsonl", [GOOD, "", {**GOOD, "id": "v2", "expert_steps": [STEP1]}])
    out = tmp_path / "out" / "metrics.json"
    rc = _run(good, artifacts, "--model", "srl", "--base-model", str(tiny_model_dir),
              "--adapter", str(tiny_adapter_dir), "--out", str(out))
    printed = capsys.readouterr().out
    assert rc == 0
    m = json.loads(out.read_text(encoding="utf-8"))
    assert METRIC_KEYS <= set(m)
    assert m["tasks"] == 2 and m["k"] == 2 and m["step_examples"] == 1
    assert sum(m["outcomes"].values()) == 2 * 3
    assert m["kl_to_base"] is not None and m["kl_to_base"] > 0
    assert m["model"] == {"name": "srl", "tier": "bronze", "base_model": str(tiny_model_dir),
                          "adapter": str(tiny_adapter_dir)}
    assert [t["scenario_id"] for t in m["per_task"]] == ["v1", "v2"]
    assert m["species"] == "vampire" and m["rules_version"] == vampire_ruleset().version
    for words in ("success (greedy)", "success (avg@2)", "step similarity", "KL to base", f"wrote {out}"):
        assert words in printed, printed


def test_base_model_default_output_path(tmp_path, artifacts, tiny_model_dir, capsys):
    import shutil

    good = _write(tmp_path / "good.jsonl", [GOOD])
    artifacts = Path(shutil.copytree(artifacts, tmp_path / "artifacts"))
    assert _run(good, artifacts, "--model", "base", "--base-model", str(tiny_model_dir), "--k", "1") == 0
    m = json.loads((artifacts / "eval" / "vampire-base.json").read_text(encoding="utf-8"))
    assert m["kl_to_base"] == 0.0 and m["model"]["adapter"] is None and m["k"] == 1
    assert "no scenario carries expert_steps" in capsys.readouterr().out


def test_missing_adapter_is_a_clear_error(tmp_path, artifacts, tiny_model_dir, capsys):
    good = _write(tmp_path / "good.jsonl", [GOOD])
    assert _run(good, artifacts, "--model", "srl_rlvr", "--base-model", str(tiny_model_dir)) == 2
    err = capsys.readouterr().err
    assert f"no PEFT adapter at {artifacts / 'rlvr_adapter' / 'vampire'}" in err
