"""glibc malloc settings for the processes that run torch on the CPU: keep freed memory.

PyTorch's CPU tensors come from glibc's ``malloc``. A block above the mmap threshold (adaptive, at
most 32 MiB) is mapped when it is allocated and unmapped when it is freed, and free memory at the
top of the heap is trimmed back to the kernel; each training step and each decoded batch allocates
its activations and key/value buffers again, and the kernel zeroes and maps them again, page by
page. Main run 11 (EXPERIMENTS.md) spent 710 of its 5481 CPU seconds in the kernel, on 366 million
minor page faults; an RLVR stage kept its numbers to the last digit and ran 1.20x faster with
these settings. What it costs: a process keeps its high-water mark of heap memory (+5 % peak RSS
in that stage).

glibc reads the settings once, when a process starts, so they go into the environment of the
processes the project starts (training jobs, ``srl-pipeline main``'s workers; the Makefile exports
the same values for ``make ui`` and ``make test``). A value the operator already set wins. Other C
libraries (musl) ignore them, and SageMaker's jobs are left alone: on a GPU the activations live in
torch's own caching allocator.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["ALLOCATOR_ENV", "allocator_env"]

ALLOCATOR_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 30),   # blocks below 1 GiB come from the heap, and stay there when freed
    "MALLOC_TRIM_THRESHOLD_": str(1 << 32),   # the heap's free top is returned to the kernel only above 4 GiB
}


def allocator_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings ``environ`` does not already set: to add to a child process's environment."""
    return {key: value for key, value in ALLOCATOR_ENV.items() if key not in environ}
