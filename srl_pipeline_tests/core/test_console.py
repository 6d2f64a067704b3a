"""Console quiet switches: a tiny model loaded and saved, and a deprecated training argument, in a
fresh process: silent by default, everything with $SRL_VERBOSE; the project's own warnings always show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, warnings
from srl_pipeline.core.console import quiet_third_party
quiet_third_party()
import transformers
model = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1])
model.save_pretrained(sys.argv[2])
transformers.TrainingArguments(output_dir=sys.argv[2], gradient_checkpointing=False, report_to="none")
warnings.warn("our own warning", UserWarning)
"""


def _run(tiny_model_dir: Path, out: Path, verbose: bool) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SRL_VERBOSE", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY")}
    env.update({"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **({"SRL_VERBOSE": "1"} if verbose else {})})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_model_dir), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_library_warnings_and_progress_bars_are_silent_by_default_and_shown_when_verbose(tiny_model_dir, tmp_path):
    quiet = _run(tiny_model_dir, tmp_path / "quiet", verbose=False)
    assert "Loading weights" not in quiet and "Writing model shards" not in quiet
    assert "FutureWarning" not in quiet
    assert "our own warning" in quiet   # not every warning is dropped

    loud = _run(tiny_model_dir, tmp_path / "loud", verbose=True)
    assert "Loading weights" in loud and "Writing model shards" in loud
    assert "FutureWarning" in loud and "our own warning" in loud
