"""The command line through typer's CliRunner (and a few real subprocesses): output formats,
exit codes, clean stdout, errors on stderr, and lazy imports."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import deter
import pytest
import typer
from deter.cli.app import app
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import ROOT
from tests.support.reference import TWO_ACTIONS, UNDETECTABLE, spec_text

ROOT = ROOT
SpecWriter = Callable[..., Path]

BAD = spec_text(
    [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 3.0, "penalty_cap": 20.0}],
    [{"name": "judge", "cost": 1.0, "detects": {"cheat": 0.5}, "fals_positive": 0.1}],
)
BAD_LINE = BAD.splitlines().index("fals_positive = 0.1") + 1


def run(runner: CliRunner, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def good(write_spec: SpecWriter) -> Path:
    return write_spec(TWO_ACTIONS.text, "two")


@pytest.fixture
def bad(write_spec: SpecWriter) -> Path:
    return write_spec(BAD, "bad")


@pytest.fixture
def infeasible(write_spec: SpecWriter) -> Path:
    return write_spec(UNDETECTABLE.text, "hidden")


# --- deter solve -------------------------------------------------------------------------


def test_solve_table(runner: CliRunner, good: Path) -> None:
    result = run(runner, "solve", str(good))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Monitors" in out and "Actions" in out
    for name in ("judge", "honest", "a", "b"):
        assert re.search(rf"\b{name}\b", out)
    assert "optimal" in out
    assert "\x1b[" not in out  # NO_COLOR and not a terminal: no escape codes
    assert result.stderr == ""


def test_solve_json(runner: CliRunner, good: Path) -> None:
    result = run(runner, "solve", str(good), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["status"] == "optimal"
    assert doc["total_cost"] == pytest.approx(TWO_ACTIONS.cost)
    (monitor,) = doc["monitors"]
    assert monitor["name"] == "judge" and monitor["rate"] == pytest.approx(0.4)
    actions = {a["name"]: a for a in doc["actions"]}
    assert set(actions) == {"honest", "a", "b"}
    for action in actions.values():
        assert {"name", "detection", "deterred", "shadow_price"} <= set(action)
        assert action["deterred"] is True
    assert actions["b"]["shadow_price"] == pytest.approx(TWO_ACTIONS.shadow_prices["b"])
    assert doc["verification"]["passed"] is True


def test_solve_json_without_timing(runner: CliRunner, good: Path) -> None:
    doc = json.loads(run(runner, "solve", str(good), "-f", "json", "--no-timing").stdout)
    assert "timing" not in doc


def test_solve_csv(runner: CliRunner, good: Path) -> None:
    result = run(runner, "solve", str(good), "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    kinds = {(r["kind"], r["name"]) for r in rows}
    assert {("monitor", "judge"), ("action", "a"), ("action", "b")} <= kinds
    judge = next(r for r in rows if r["name"] == "judge")
    assert float(judge["rate"]) == pytest.approx(0.4)


def test_solve_markdown(runner: CliRunner, good: Path) -> None:
    result = run(runner, "solve", str(good), "--format", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("| Monitor") for line in lines)
    assert any(line.startswith("| Action") for line in lines)
    assert any(line.startswith("| judge") for line in lines)


def test_solve_reads_stdin(runner: CliRunner) -> None:
    result = run(runner, "solve", "-", "--format", "json", input=TWO_ACTIONS.text)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["total_cost"] == pytest.approx(TWO_ACTIONS.cost)


def test_solve_output_file(runner: CliRunner, good: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = run(runner, "solve", str(good), "-f", "json", "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text())["status"] == "optimal"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_solve_infeasible(runner: CliRunner, infeasible: Path) -> None:
    result = run(runner, "solve", str(infeasible), "--format", "json")
    assert result.exit_code == 1
    assert "infeasible" in result.stderr and "hidden" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "infeasible" and doc["total_cost"] is None
    assert {a["name"] for a in doc["diagnosis"]["actions"] if not a["deterrable"]} == {"hidden"}


def test_solve_infeasible_table_explains(runner: CliRunner, infeasible: Path) -> None:
    result = run(runner, "solve", str(infeasible))
    assert result.exit_code == 1
    assert "hidden" in result.stdout


def test_solve_bad_input(runner: CliRunner, bad: Path) -> None:
    result = run(runner, "solve", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:{BAD_LINE}:" in result.stderr
    assert "monitors.judge.fals_positive" in result.stderr
    assert "did you mean 'false_positive'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_solve_bad_input_json(runner: CliRunner, bad: Path) -> None:
    result = run(runner, "solve", str(bad), "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "bad_input"
    assert doc["issues"][0]["line"] == BAD_LINE


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["solve", "{missing}"], "no such file"),
        (["solve", "{syntax}"], "TOML syntax error"),
        (["solve", "{good}", "--solver", "gurobi"], "is not one of"),
        (["solve", "{good}", "--format", "yaml"], ""),
    ],
    ids=["missing-file", "syntax", "unknown-solver", "unknown-format"],
)
def test_usage_errors_exit_2(
    runner: CliRunner, good: Path, write_spec: SpecWriter, args: list[str], text: str
) -> None:
    syntax = write_spec("version = 1\n[[actions]\n", "syntax")
    paths = {"missing": str(good.parent / "missing.toml"), "syntax": str(syntax), "good": str(good)}
    result = run(runner, *[a.format(**paths) for a in args])
    assert result.exit_code == 2
    assert text in result.stderr
    assert "Traceback" not in result.stderr


def test_solver_clarabel(runner: CliRunner, good: Path) -> None:
    result = run(runner, "solve", str(good), "--solver", "clarabel", "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["solver"] == "CLARABEL"
    assert doc["total_cost"] == pytest.approx(TWO_ACTIONS.cost, rel=1e-6)


def test_unverified_answer_exits_3(
    runner: CliRunner, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer passes verification: status solver_error, exit 3, never 'optimal'."""
    import deter.solver.engine.core as solve_module
    from deter.solver.results.result import Check, Verification

    def reject(*args: object, **kwargs: object) -> tuple[Verification, None]:
        return Verification(False, 1e-6, 1.0, 1.0, (Check("incentive", 1.0, 1.0),)), None

    monkeypatch.setattr(solve_module, "verify_evaluated", reject)
    monkeypatch.setattr(solve_module, "_together", lambda member: False)  # one by one
    result = run(runner, "solve", str(good), "-f", "json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["status"] == "solver_error" and doc["total_cost"] is None


# --- deter validate, --version -----------------------------------------------------------


def test_validate_ok(runner: CliRunner, good: Path) -> None:
    result = run(runner, "validate", str(good))
    assert result.exit_code == 0
    assert f"{good}: ok" in result.stdout


def test_validate_bad(runner: CliRunner, good: Path, bad: Path) -> None:
    result = run(runner, "validate", str(good), str(bad))
    assert result.exit_code == 2
    assert f"{good}: ok" in result.stdout
    assert f"{bad}:{BAD_LINE}:" in result.stderr


def test_validate_json(runner: CliRunner, good: Path, bad: Path) -> None:
    result = run(runner, "validate", str(good), str(bad), "--format", "json")
    doc = json.loads(result.stdout)
    assert (doc["schema_version"], doc["kind"]) == (1, "validation")
    report = doc["files"]  # a bare list before issue 15
    assert [entry["valid"] for entry in report] == [True, False]
    assert report[1]["issues"][0]["key"] == "monitors.judge.fals_positive"


def test_validate_stdin(runner: CliRunner) -> None:
    result = run(runner, "validate", "-", input=BAD)
    assert result.exit_code == 2
    assert f"<stdin>:{BAD_LINE}:" in result.stderr


def test_version(runner: CliRunner) -> None:
    result = run(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"deter {deter.__version__}"


def test_schema(runner: CliRunner) -> None:
    result = run(runner, "schema")
    assert result.exit_code == 0
    assert "actions" in json.loads(result.stdout)["properties"]


# --- real processes ----------------------------------------------------------------------


def python(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CLI_ENV}
    return subprocess.run(
        [sys.executable, *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_python_m_deter_version() -> None:
    done = python("-m", "deter", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"deter {deter.__version__}"


def test_json_stdout_is_clean_in_a_real_process(good: Path) -> None:
    """HiGHS prints its banner from C++, past Python's sys.stdout: it must not reach fd 1."""
    done = python("-m", "deter", "solve", str(good), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert doc["status"] == "optimal"
    assert "HiGHS" not in done.stdout + done.stderr


LAZY_PROBE = """
import sys
from deter.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("CVXPY-LOADED" if "cvxpy" in sys.modules else "CVXPY-NOT-LOADED", file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["validate", "{spec}"], ["schema"]],
    ids=["help", "version", "validate", "schema"],
)
def test_fast_commands_do_not_import_cvxpy(args: list[str], good: Path) -> None:
    done = python("-c", LAZY_PROBE, *[a.format(spec=good) for a in args])
    assert "CVXPY-NOT-LOADED" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_probe_does_see_cvxpy_when_solving(good: Path) -> None:
    done = python("-c", LAZY_PROBE, "solve", str(good))
    assert "CVXPY-LOADED" in done.stderr, done.stderr


# --- every command -------------------------------------------------------------------------


def registered_commands() -> dict[str, str]:
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})
    return {name: (command.help or "") for name, command in commands.items()}


def test_commands_are_registered() -> None:
    assert {"solve", "validate", "schema"} <= set(registered_commands())


@pytest.mark.parametrize("name", sorted(registered_commands()))
def test_every_command_has_help(name: str, runner: CliRunner) -> None:
    assert registered_commands()[name].strip(), f"deter {name} has no help text"
    result = run(runner, name, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


@pytest.mark.parametrize("name", sorted(registered_commands()))
def test_every_command_is_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(rf"deter {re.escape(name)}\b", readme) is not None
    assert shown, f"README.md never shows `deter {name}` (document every command)"


def test_output_into_a_missing_folder_names_the_file(
    runner: CliRunner, good: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-folder" / "out.json"
    result = run(runner, "solve", str(good), "-f", "json", "-o", str(target))
    assert result.exit_code == 2
    assert str(target) in result.stderr, result.stderr
    assert ".tmp" not in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
