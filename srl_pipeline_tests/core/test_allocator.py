"""The allocator settings: glibc keeps what torch frees (measured in a fresh process), an operator's
own value wins, and the Makefile exports the values the code adds to the processes it starts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from srl_pipeline.core.allocator import ALLOCATOR_ENV, allocator_env
from srl_pipeline.defs.training.backends.local import LocalTrainingBackend

ROOT = Path(__file__).resolve().parents[2]

# A training step's pattern: allocate buffers, touch them, free them, again. Prints the minor page
# faults of the rounds after the first (the first must fault its pages in either way).
SCRIPT = """
import resource, torch
def round_():
    for _ in range(4):
        torch.ones(8 << 20)          # 32 MiB, touched and freed
torch.set_num_threads(1)
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(extra: dict[str, str]) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV}
    env.update({"OMP_NUM_THREADS": "1", **extra})
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    return int(out.stdout.split()[-1])


def test_the_settings_keep_freed_memory_in_the_process():
    plain, kept = _faults({}), _faults(ALLOCATOR_ENV)
    # 120 buffers of 32 MiB: without the settings glibc maps and unmaps each (8192 pages apiece);
    # with them the faults stop growing with the rounds (here: about 4 buffers' worth in all)
    assert plain > 120 * 8192 // 2, plain
    assert kept < plain // 8, (kept, plain)


def test_an_operators_own_value_wins():
    assert allocator_env({}) == ALLOCATOR_ENV
    assert allocator_env({"MALLOC_TRIM_THRESHOLD_": "0"}) == {"MALLOC_MMAP_THRESHOLD_": ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]}


def test_training_jobs_start_with_the_settings(monkeypatch):
    for key in ALLOCATOR_ENV:
        monkeypatch.delenv(key, raising=False)
    env = LocalTrainingBackend(env={"EXTRA": "1"}).process_env()
    assert {k: env[k] for k in ALLOCATOR_ENV} == ALLOCATOR_ENV and env["EXTRA"] == "1"
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    # the job inherits this environment (PipesSubprocessClient puts os.environ first): not overridden
    assert "MALLOC_MMAP_THRESHOLD_" not in LocalTrainingBackend().process_env()


def test_the_makefile_exports_the_same_values():
    exported = dict(re.findall(r"^export (MALLOC_\w+) \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M))
    assert exported == ALLOCATOR_ENV
