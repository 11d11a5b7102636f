"""Every command that takes a spec, on every degenerate spec (issue 20): an exit code from
the documented table, never 5, and the same status as ``solve``."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.cli.exit_codes import COMMAND_CODES, ExitCode
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.degenerate_specs import EXPECTED, SPECS

BY_STATUS = {"optimal": ExitCode.OK, "infeasible": ExitCode.NOT_MET}
#: The report (plots, the slowest command) on one spec of each kind, to keep the file fast.
REPORTED = {"no_monitors_paying", "no_monitors_minloss", "only_compliant_floor", "ties"}


def commands(spec: str, out: Path) -> dict[str, list[str]]:
    return {
        "solve": ["solve", spec, "-f", "json"],
        "explain": ["explain", spec],
        "batch": ["batch", spec, "-j", "1"],
        "check": ["check", spec, "-j", "1"],
        "sweep": ["sweep", spec, "--vary", "agent.penalty_cap=5,20"],
        # factors 1 and 2: larger caps keep a spec feasible, so the worst factor is the spec's own
        "frontier": ["frontier", spec, "--points", "2", "--from", "1", "--to", "2"],
        "compare": ["compare", spec, spec],
        "simulate": ["simulate", spec, "-n", "5", "-k", "3"],
        "export": ["export", spec, "-o", str(out / "policy.json")],
        "report": ["report", spec, "-o", str(out / "report.html")],
        "validate": ["validate", spec],
    }


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_command_answers_a_degenerate_spec(name: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(SPECS[name], encoding="utf-8")
    runner = CliRunner(env=CLI_ENV)
    expected = BY_STATUS[EXPECTED[name][0]]
    for command, args in commands(str(spec), tmp_path).items():
        if command == "report" and name not in REPORTED:
            continue
        result = runner.invoke(app, args, catch_exceptions=False)
        code = result.exit_code
        where = f"deter {' '.join(args)}: {result.stderr[-500:]}"
        assert code != ExitCode.INTERNAL_ERROR, where
        assert code in COMMAND_CODES[command], where
        if command == "validate":
            assert code == ExitCode.OK, where
        elif command == "sweep" and "penalty_cap" not in SPECS[name]:
            assert code in (ExitCode.OK, ExitCode.BAD_INPUT, ExitCode.NOT_MET), where
        elif command == "frontier":  # its worst factor's code: a lower cap may not be met
            assert code in ({expected, ExitCode.NOT_MET}), where
        elif command != "export" or expected == ExitCode.OK:
            assert code == expected, where
        else:  # no policy to export from an infeasible spec
            assert code == ExitCode.NOT_MET, where


#: Specs whose report has nothing to plot on a log axis or in a legend (every cap costs 0,
#: no action to deter): matplotlib warned on each before the figures said so themselves.
NOTHING_TO_PLOT = ("no_monitors_nothing_pays", "only_compliant", "only_compliant_floor")


@pytest.mark.parametrize("name", NOTHING_TO_PLOT)
def test_report_with_nothing_to_plot_warns_nothing(name: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(SPECS[name], encoding="utf-8")
    runner = CliRunner(env=CLI_ENV)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(
            app, ["report", str(spec), "-o", str(tmp_path / "r.html")], catch_exceptions=False
        )
    assert result.exit_code == ExitCode.OK, result.stderr
    assert [str(w.message) for w in caught] == []
    assert "Warning" not in result.stderr
    assert "nothing to plot" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_report_command_stderr_has_no_warnings(tmp_path: Path) -> None:
    """The installed command, as a user runs it: stderr is the one line saying where it wrote."""
    spec = tmp_path / "only_compliant.toml"
    spec.write_text(SPECS["only_compliant"], encoding="utf-8")
    out = tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "deter", "report", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **CLI_ENV},
    )
    assert done.returncode == ExitCode.OK, done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr.lower(), done.stderr


def test_min_loss_without_monitors_says_full_deterrence_is_impossible(tmp_path: Path) -> None:
    spec = tmp_path / "m.toml"
    spec.write_text(SPECS["no_monitors_minloss"], encoding="utf-8")
    result = CliRunner(env=CLI_ENV).invoke(app, ["solve", str(spec)], catch_exceptions=False)
    assert "full deterrence: impossible" in result.stdout
    assert "would cost impossible" not in result.stdout + result.stderr
