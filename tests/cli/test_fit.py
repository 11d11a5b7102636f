"""``deter fit`` end to end: bundled data to a spec that solves, bad data to located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from deter.cli.app import app
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import PROBLEMS

EXAMPLE = PROBLEMS / "control" / "synthetic_samples.csv"


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


def test_fit_then_solve(tmp_path: Path) -> None:
    spec, calibration = tmp_path / "fitted.toml", tmp_path / "cal.json"
    done = run(
        "fit",
        str(EXAMPLE),
        "-o",
        str(spec),
        "--calibration",
        str(calibration),
        "--gain",
        "insert_backdoor=2",
        "--gain",
        "exfiltrate_data=1.5",
        "--penalty-cap",
        "20",
        "--audit-cost",
        "basic_monitor=50",
        "--default-audit-cost",
        "40",
        "--max-rate",
        "0.05",
    )
    assert done.exit_code == 0, done.output
    text = spec.read_text()
    assert text.startswith("#:schema ./deter.schema.json\n")
    assert "cost = 50.0" in text and "cost = 40.0" in text and "max_rate = 0.05" in text
    assert json.loads(calibration.read_text())["kind"] == "fit"
    solved = run("solve", str(spec), "--format", "json")
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout)["status"] == "optimal"


def test_fit_to_stdout_without_a_band() -> None:
    done = run("fit", str(EXAMPLE), "--no-band")
    assert done.exit_code == 0
    assert "no confidence band" in done.stdout


def test_bad_data_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"label": ["honest", "cheat", "bribe"], "score_m": [0, 1, 2]}).to_csv(
        path, index=False
    )
    done = run("fit", str(path), "--action", "cheat=cheat")
    assert done.exit_code == 2
    assert f"{path}:4: label: attack kind 'bribe'" in done.stderr


def test_dropped_rows_are_warned_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame(
        {"label": ["honest", "honest", None, "cheat", "cheat"], "score_m": [0, None, 1, 2, 3]}
    ).to_csv(path, index=False)
    done = run("fit", str(path), "--no-band")
    assert done.exit_code == 0, done.output
    assert f"warning: {path}:3: score_m: missing or non-finite score" in done.stderr
    assert f"warning: {path}:4: label: no label" in done.stderr
    assert "note: 1 x unlabelled sample dropped" in done.stderr


def test_bad_options_are_usage_errors() -> None:
    assert run("fit", str(EXAMPLE), "--gain", "nonsense").exit_code == 2
    assert run("fit", str(EXAMPLE), "--delta", "0.9").exit_code == 2
    assert run("fit", "nope.csv").exit_code == 2


def test_binomial_band() -> None:
    done = run("fit", str(EXAMPLE), "--band", "binomial")
    assert done.exit_code == 0, done.output
    assert "binomial bands on a grid of rates" in done.stdout
    assert run("fit", str(EXAMPLE), "--band", "wide").exit_code == 2
