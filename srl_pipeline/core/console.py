"""Console noise: third-party deprecation warnings and weight loading/saving progress bars are
off unless ``$SRL_VERBOSE`` is set (``srl-pipeline main --verbose``).

A person follows ``srl-pipeline main`` on the console; the libraries' FutureWarnings and tqdm bars
("Loading weights", "Writing model shards") say nothing they can act on, dozens of times per run.
They are silenced at the source (the libraries' own verbosity and progress-bar switches, and
``warnings`` filters scoped to those libraries' modules), never by dropping every warning: the
project's own warnings still show. The switches are environment variables, so the training
subprocesses inherit them; each process also calls :func:`quiet_third_party` for the filters.
"""

from __future__ import annotations

import os
import sys
import warnings

VERBOSE_ENV = "SRL_VERBOSE"

# Libraries whose deprecation chatter is not ours to fix (matched against the warning's module).
THIRD_PARTY_MODULES = ("transformers", "trl", "peft", "accelerate", "torch", "huggingface_hub", "datasets",
                       "tokenizers", "safetensors", "great_expectations")
THIRD_PARTY_CATEGORIES: tuple[type[Warning], ...] = (FutureWarning, DeprecationWarning, PendingDeprecationWarning,
                                                     UserWarning)
# Progress bars and log verbosity, read by the libraries when they are imported.
QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",     # huggingface_hub's bars, and transformers' (it follows the hub's switch)
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
}


def is_verbose() -> bool:
    """Whether the user asked for everything (``$SRL_VERBOSE`` set to anything but empty/0)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def set_verbose(verbose: bool) -> None:
    """Record the choice in the environment, so subprocesses (training jobs) make the same one."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:
        os.environ.pop(VERBOSE_ENV, None)


def third_party_module_pattern() -> str:
    """The regex ``warnings`` matches against a warning's module: the libraries and their submodules."""
    return r"(%s)(\..*)?$" % "|".join(THIRD_PARTY_MODULES)


def quiet_third_party() -> None:
    """Silence the libraries' warnings and progress bars in this process and its children (no-op when verbose)."""
    if is_verbose():
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    pattern = third_party_module_pattern()
    for category in THIRD_PARTY_CATEGORIES:
        warnings.filterwarnings("ignore", category=category, module=pattern)
    # Libraries imported before the environment was set read their switches already: flip them.
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
