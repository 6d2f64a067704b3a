"""The browser check: after a real run, the Dagster UI's pages show what the operator looks for.

dagster-webserver serves the run's instance; headless Chromium (Debian's ``chromium`` package; the
test is skipped where it is missing, `.ci/run` installs it) renders the asset catalogue, the SRL
adapter's page and the evaluation's page, and the rendered text must carry the adapter's inline
reward/KL curves and the evaluation's models table. ``--virtual-time-budget`` lets the single-page
app fetch and render before the DOM is dumped."""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest



ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _page_text(url: str) -> str:
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    out = re.sub(r"<script.*?</script>|<style.*?</style>", " ", out, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", out)))


@pytest.fixture(scope="module")
def webserver(trained):  # noqa: F811
    runner = trained[0]
    home = runner.instance.root_directory
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": home}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"),
                             "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_asset_catalog_lists_the_pipeline_with_its_materialisations(webserver):
    # The catalogue, not the lineage graph: the graph is laid out in a web worker that headless
    # Chromium's virtual time does not run, so its page dumps without node names. The catalogue is
    # a virtualised list: the first rows (alphabetical) are what renders.
    text = _page_text(f"{webserver}/assets")
    for name in ("base_models / bronze", "experiment_report", "expert_trajectories", "game_rules"):
        assert name in text, name
    assert "Materialized" in text


def test_adapter_page_shows_its_curves_inline(webserver):
    text = _page_text(f"{webserver}/assets/srl_adapter?partition=zombie")
    assert "reward curve" in text and "KL curve" in text
    assert "validation_reward_trained" in text


def test_evaluation_page_shows_the_models_table(webserver):
    text = _page_text(f"{webserver}/assets/model_evaluation?partition=zombie")
    assert "models" in text
    assert "Random legal" in text or "random_legal" in text
