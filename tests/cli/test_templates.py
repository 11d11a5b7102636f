"""Every template ``deter init`` writes (the bundled problems among them) solves without a
note or a warning about its own model (issue 21): an example must not warn about itself.
Six of them used to: linear detection with the rates of the monitors that detect one action
adding up to more than 1, inspections that must overlap, which linear detection counts twice
(``solver/formulation/components/detection.overlapping_inspections``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from deter.cli.app import app
from deter.cli.common import templates
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


def test_the_templates_are_the_starter_and_every_bundled_problem() -> None:
    root = Path(__file__).resolve().parents[2] / "problems"
    bundled = {p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.toml")}
    assert set(templates()) == {"starter"} | bundled


@pytest.mark.parametrize("name", sorted(templates()))
def test_a_template_solves_without_a_note_about_itself(name: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    made = invoke("init", name, "-o", str(path))
    assert made.exit_code == 0, made.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning fails the test too
        solved = invoke("solve", str(path), "--no-timing")
    # the two problems/infeasible/ ones cannot be met: exit 1 with their diagnosis
    assert solved.exit_code == (1 if name.startswith("infeasible/") else 0), solved.stderr
    text = solved.stdout + solved.stderr
    assert "note:" not in text and "warning" not in text.lower(), text
