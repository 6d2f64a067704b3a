"""Fixtures shared across test packages (training, evaluation, the eval command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srl_pipeline_tests.tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """One random tiny Qwen2 + tokenizer for the whole session (read-only: never train it in place)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")
