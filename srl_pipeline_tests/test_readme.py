"""The README's commands, as written, on a fresh copy of the project (its tracked files, no
artifacts, no instance): every command on the page is either run here or named with the reason
it is not (training for minutes, the suite itself); a new command must be added to one of them.

Commands run with this interpreter's virtualenv standing in for the clone's `.venv` (`.venv/bin/`
is rewritten, `make` gets `VENV=` and never remakes the install stamp)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from srl_pipeline.core.profiles import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
VENV = Path(sys.prefix)
COMMAND_PREFIXES = ("make ", ".venv/bin/", "python -m ", "DAGSTER_HOME=")

VALIDATE = "make validate"
VALIDATE_DATA = "make validate-data"
UI = "make ui"
MATERIALIZE = ("DAGSTER_HOME=$PWD/.dagster_home .venv/bin/dagster asset materialize -m srl_pipeline.definitions "
               "--select 'monster_lore,lore_index,game_rules,scenarios' --partition vampire "
               "-c configs/dagster/in_process.yaml")
RUN_HERE = {VALIDATE, VALIDATE_DATA, UI, MATERIALIZE}
# Not run: what each needs, and where it is tested instead. Their arguments are still checked.
NOT_RUN = {
    "make main": "the whole pipeline (~40 min on a laptop); its pieces are tested in cli/ and defs/",
    "make test": "this test suite",
    "make main TORCH_SPEC='torch>=2.6,<2.14'": "an install of a CUDA torch",
    "make bench": "benchmarks, minutes of CPU",
    ".venv/bin/srl-pipeline main --species vampire --no-experiments": "trains a species (minutes)",
    ".venv/bin/srl-pipeline main --verbose": "the whole pipeline, as make main",
    ".venv/bin/srl-pipeline eval --species vampire --model srl_rlvr --scenarios configs/eval/vampire_encounters.jsonl":
        "needs trained adapters; cli/test_eval_command.py runs it on a tiny model",
    "python -m srl_pipeline.training.entrypoint --spec spec.json": "needs a job spec; training/test_entrypoint.py runs it",
    ".venv/bin/torchrun --nproc_per_node 2 -m srl_pipeline.training.entrypoint --spec spec.json":
        "two training processes; training/test_distributed.py runs it",
    ".venv/bin/srl-pipeline registry list --species zombie --tier gold":
        "needs registered models; cli/test_registry_command.py runs list, approve and rollback",
    ".venv/bin/srl-pipeline registry approve --species zombie --tier gold --version 3": "as registry list",
    ".venv/bin/srl-pipeline registry rollback --species zombie --tier gold": "as registry list",
}


def readme_commands(text: str) -> set[str]:
    """Every command line of the README: the lines of its bash blocks (comments dropped) and the
    inline code spans that start like a command."""
    commands = set()
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        commands |= {line.split(" #")[0].strip() for line in block.splitlines() if line.split(" #")[0].strip()}
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    commands |= {span for span in re.findall(r"`([^`\n]+)`", prose) if span.startswith(COMMAND_PREFIXES)}
    return commands


def _as_here(command: str) -> str:
    command = re.sub(r"(?<![\w/.])\.venv/bin/", f"{VENV}/bin/", command)
    if command.startswith("make "):
        command = f"make VENV={VENV} -o {VENV}/.installed " + command[len("make "):]
    return command


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The project's files as a fresh clone has them."""
    dest = tmp_path_factory.mktemp("clone") / "srl_pipeline"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        for name in listed.stdout.splitlines():
            if (PROJECT_ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(PROJECT_ROOT / name, dest / name)
    else:  # no git: everything but what a clone does not have
        shutil.copytree(PROJECT_ROOT, dest, ignore=shutil.ignore_patterns(
            ".venv", ".git", "artifacts", ".dagster_home", "__pycache__", ".pytest_cache", "logs"))
    return dest


def _env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SRL_PROFILE", "SRL_VERBOSE")}
    return {**env, "PYTHONPATH": str(clone), "OMP_NUM_THREADS": "1"}


def _run(command: str, clone: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", _as_here(command)], cwd=clone, env=_env(clone), capture_output=True,
                          text=True, timeout=timeout)


def test_every_readme_command_is_run_here_or_says_why_not():
    assert readme_commands(README.read_text(encoding="utf-8")) == RUN_HERE | set(NOT_RUN)


@pytest.mark.parametrize("command", sorted(NOT_RUN))
def test_the_commands_not_run_exist_with_these_arguments(command, clone):
    if command.startswith("make "):
        check = command.replace("make ", "make -n ", 1)              # the target exists (dry run)
    elif command.startswith("python -m "):
        check = f"{VENV}/bin/{command} --help".replace(" --spec spec.json", "")
    else:
        check = f"{command} --help"                                    # argparse knows every option
    out = _run(check, clone, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def _no_warnings(output: str) -> None:
    """Nothing a command printed warns (Python warnings, Dagster's log); the recipe lines make
    echoes (with their warning filters) are not the command's output."""
    printed = "\n".join(line for line in output.splitlines() if " -W 'ignore:" not in line)
    for needle in ("Warning", "WARNING", "superseded", "will not be used"):
        assert needle not in printed, printed[-3000:]


def test_make_validate_and_validate_data(clone):
    validate = _run(VALIDATE, clone)
    assert validate.returncode == 0, validate.stdout[-3000:] + validate.stderr[-3000:]
    assert "Validation successful" in validate.stdout + validate.stderr
    _no_warnings(validate.stdout + validate.stderr)
    data = _run(VALIDATE_DATA, clone)
    assert data.returncode == 0, data.stdout[-3000:] + data.stderr[-3000:]
    assert "solvable" in data.stdout


# What `make main` leaves that the next commands rely on: the species' partitions and their
# monster_lore (with the lore fingerprint the lore sensor compares), without the training.
AFTER_MAIN = """
import dagster as dg
from srl_pipeline.cli.local_instance import local_instance
from srl_pipeline.definitions import defs
instance = local_instance()
species = defs.resources["game_data"].lore_source().list_species()
instance.add_dynamic_partitions("species", species)
for s in species:
    assert dg.materialize([defs.get_assets_def("monster_lore")], partition_key=s, instance=instance,
                          resources=defs.resources, selection=["monster_lore"]).success
print(len(species))
"""


@pytest.fixture(scope="module")
def after_main(clone) -> Path:
    out = subprocess.run([sys.executable, "-c", AFTER_MAIN], cwd=clone, env={**_env(clone),
                         "DAGSTER_HOME": str(clone / ".dagster_home")}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return clone


def test_the_materialize_command_on_the_instance_make_main_filled(after_main):
    out = _run(MATERIALIZE, after_main)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for asset in ("monster_lore", "lore_index", "game_rules", "scenarios"):
        assert (after_main / "artifacts" / asset / "vampire.json").is_file(), asset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


LORE_SENSOR_TICKS = """{ sensorOrError(sensorSelector: {repositoryLocationName: "srl_pipeline",
  repositoryName: "__repository__", sensorName: "lore_change_sensor"}) {
  ... on Sensor { sensorState { ticks(limit: 5) { status runIds error { message } } } } } }"""


def test_make_ui_after_make_main_serves_the_ui_without_warnings_and_starts_no_run(after_main):
    import dagster as dg

    port = _free_port()
    with dg.DagsterInstance.from_config(str(after_main / ".dagster_home")) as instance:
        runs_before = instance.get_runs_count()
    log = (after_main / "ui.log").open("w")
    errors = (after_main / "ui.err").open("w")
    proc = subprocess.Popen(["bash", "-c", _as_here(UI) + f" UI_PORT={port}"], cwd=after_main, env=_env(after_main),
                            stdout=log, stderr=errors, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        ticks: list = []
        while time.monotonic() < deadline and not ticks:
            assert proc.poll() is None, (after_main / "ui.err").read_text()[-3000:]
            time.sleep(2)
            try:
                state = _graphql(port, LORE_SENSOR_TICKS)["sensorOrError"]["sensorState"]
                ticks = [t for t in state["ticks"] if t["status"] != "STARTED"]
            except (OSError, KeyError, TypeError):
                continue  # not serving yet
        assert ticks, "the lore sensor never ticked: " + (after_main / "ui.err").read_text()[-3000:]
        assert ticks[-1]["runIds"] == [] and ticks[-1]["error"] is None, ticks
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
        errors.close()
    with dg.DagsterInstance.from_config(str(after_main / ".dagster_home")) as instance:
        assert instance.get_runs_count() == runs_before   # no retraining on opening the UI
    output = (after_main / "ui.log").read_text() + (after_main / "ui.err").read_text()
    assert "Serving dagster-webserver" in output
    _no_warnings(output)
