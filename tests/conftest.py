"""Shared fixtures. Reference problems and the spec-text builder live in ``reference.py``."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path


def _tests_package() -> None:
    """Make ``tests`` (and so ``tests.support``) importable without the repository root on
    ``sys.path``: with the root there (pytest's ``pythonpath = ["."]``, or ``python -m
    pytest``'s current folder), ``solver`` and ``cli`` would import as top-level packages
    beside ``deter.solver`` and ``deter.cli``, two copies of every class. The root is taken
    off the path here, and tests/test_packaging.py checks that neither name imports."""
    here = Path(__file__).resolve().parent
    root = here.parent
    sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != root]
    if "tests" not in sys.modules:
        spec = importlib.util.spec_from_loader("tests", loader=None, is_package=True)
        assert spec is not None and spec.submodule_search_locations is not None
        spec.submodule_search_locations.append(str(here))
        sys.modules["tests"] = importlib.util.module_from_spec(spec)


_tests_package()

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tests.support.cli import CLI_ENV  # noqa: E402

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
