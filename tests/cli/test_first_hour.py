"""A first hour from the wheel alone (issue 21 item 5): the README's examples name
``problems/...``, which only a clone has, so a bundled problem runs by its name, a missing
file says what to try, and the shell completes template names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from deter.cli.app import app
from deter.cli.common import bundled_problem, complete_template, templates
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a folder without problems/, as a wheel user does."""
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "name", ["coding_agent", "coding_agent.toml", "problems/coding_agent.toml"]
)
def test_a_bundled_problem_runs_by_its_name(name: str) -> None:
    result = invoke("solve", name, "-f", "json", "--no-timing")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "coding-agent"
    assert "deter init coding_agent" in result.stderr  # how to get a copy to edit


def test_a_bundled_infeasible_problem_runs_by_its_name_too() -> None:
    result = invoke("solve", "infeasible/over_budget", "-q")
    assert result.exit_code == 1 and "over_budget" in result.stderr


def test_quiet_drops_the_note_not_the_answer() -> None:
    result = invoke("explain", "minimal", "-q")
    assert result.exit_code == 0 and result.stdout and "note:" not in result.stderr


def test_a_missing_file_says_what_to_try() -> None:
    typo = invoke("solve", "coding_agnt")
    assert typo.exit_code == 2
    assert typo.stderr.startswith("error: coding_agnt: no such file (did you mean 'coding_agent'?)")
    other = invoke("solve", "my_spec.toml")
    assert other.exit_code == 2
    assert "deter init -o my.toml" in other.stderr and "deter init --list" in other.stderr


def test_a_file_wins_over_a_bundled_name() -> None:
    Path("minimal").write_text("[agent\n", encoding="utf-8")  # broken: it is the one read
    result = invoke("solve", "minimal")
    assert result.exit_code == 2 and "note:" not in result.stderr


def test_the_starter_is_a_template_not_a_problem() -> None:
    assert bundled_problem("starter") is None
    found = bundled_problem("problems/coding_agent.toml")
    assert found is not None and found[0] == "coding_agent" and found[1].is_file()


def test_template_names_complete_in_the_shell() -> None:
    assert complete_template("cod") == ["coding_agent"]
    assert "infeasible/over_budget" in complete_template("infeasible/")
    assert set(complete_template("")) == set(templates())
    result = CliRunner(env={**CLI_ENV, "_DETER_COMPLETE": "complete_bash"}).invoke(
        app,
        [],
        prog_name="deter",
        env={"COMP_WORDS": "deter init cod", "COMP_CWORD": "2", "_DETER_COMPLETE": "complete_bash"},
    )
    assert "coding_agent" in result.stdout, result.stdout
