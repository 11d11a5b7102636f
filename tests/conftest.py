"""Shared fixtures. Reference problems and the spec-text builder live in ``reference.py``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV

# CI runs the property tests on hypothesis's fixed sequence of examples, so a run's verdict
# depends only on the code (a new example found at random would make CI flaky); local runs
# keep exploring at random and save what they find. The long explorations are
# scripts/fuzz_long.py.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


@pytest.fixture
def runner() -> CliRunner:
    """A CliRunner that keeps stderr apart from stdout (typer >= 0.12 / click >= 8.2)."""
    try:
        return CliRunner(env=CLI_ENV, mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 always separates them
        return CliRunner(env=CLI_ENV)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write spec text to ``tmp_path/<name>.toml`` and return the path."""

    def write(text: str, name: str = "spec") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
