"""deter check: [requirements] in the spec, command-line overrides, CI output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import deter
import pytest
from deter.cli.app import app
from deter.solver.analysis.requirements import RequirementOverrides, check_requirements
from deter.solver.results.errors import SpecError
from typer.testing import CliRunner

from tests.support.batch_helpers import UNDETERRABLE_LINE, UNDETERRABLE_SPEC, one_action_spec

# One deviation, one monitor: rate = 3 / (0.5 * 20) = 0.3, cost = 2 * 0.3 = 0.6.
RATE, COST = 0.3, 0.6


def spec_with(requirements: str) -> str:
    return one_action_spec(3.0, 20.0, 0.5, cost=2.0, extra="\n[requirements]\n" + requirements)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_requirements_are_validated_with_file_key_and_line() -> None:
    with pytest.raises(SpecError) as caught:
        deter.load_spec(spec_with("max_rate = { inspektor = 0.1 }"))
    issue = caught.value.issues[0]
    assert issue.key == "requirements.max_rate.inspektor"
    assert "did you mean 'inspector'" in issue.message and issue.line is not None
    with pytest.raises(SpecError):
        deter.load_spec(spec_with("max_cots = 1.0"))
    with pytest.raises(SpecError):
        deter.load_spec(spec_with("max_cost = -1.0"))


def test_each_requirement_against_the_closed_form() -> None:
    met = deter.load_spec(
        spec_with(
            f"max_cost = {COST + 0.01}\nmin_margin = 0.0\n"
            f"max_rate = {{ inspector = {RATE + 0.01} }}"
        )
    )
    assert check_requirements(met, deter.solve(met)) == []
    text = spec_with(
        f"max_cost = {COST - 0.01}\nmin_margin = 0.5\nmax_rate = {{ inspector = {RATE - 0.01} }}"
    )
    failing = deter.load_spec(text)
    failures = {f.key: f for f in check_requirements(failing, deter.solve(failing))}
    assert set(failures) == {"max_cost", "min_margin", "max_rate.inspector"}
    assert float(failures["max_cost"].measured) == pytest.approx(COST, rel=1e-5)
    assert float(failures["max_rate.inspector"].measured) == pytest.approx(RATE, rel=1e-5)
    assert float(failures["min_margin"].measured) == pytest.approx(0.0, abs=1e-6)
    rows = text.splitlines()
    assert rows[failures["max_cost"].line - 1].startswith("max_cost")
    assert rows[failures["min_margin"].line - 1].startswith("min_margin")


def test_overrides_replace_the_file_limits() -> None:
    spec = deter.load_spec(spec_with(f"max_cost = {COST - 0.01}"))
    result = deter.solve(spec)
    assert [f.key for f in check_requirements(spec, result)] == ["max_cost"]
    relaxed = RequirementOverrides(max_cost=COST + 1)
    assert check_requirements(spec, result, relaxed) == []
    tight = RequirementOverrides(max_rate={"inspector": RATE / 2})
    assert [f.key for f in check_requirements(spec, result, tight)] == [
        "max_cost",
        "max_rate.inspector",
    ]


def test_deter_all_false_accepts_an_undeterrable_spec() -> None:
    strict = deter.load_spec(UNDETERRABLE_SPEC)
    result = deter.solve(strict)
    failures = check_requirements(strict, result)
    assert [f.key for f in failures] == ["deter_all"]
    assert failures[0].line == UNDETERRABLE_LINE
    lenient = deter.load_spec(UNDETERRABLE_SPEC + "\n[requirements]\ndeter_all = false\n")
    assert check_requirements(lenient, deter.solve(lenient)) == []


def test_check_command_lines_and_exit_codes(runner: CliRunner, tmp_path: Path) -> None:
    passing = write(tmp_path, "passing", spec_with(f"max_cost = {COST + 0.1}"))
    failing = write(tmp_path, "failing", spec_with(f"max_cost = {COST / 2}"))
    ok = runner.invoke(app, ["check", str(passing)])
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout == ""
    bad = runner.invoke(app, ["check", str(passing), str(failing)])
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{failing}:") and "max_cost" in lines[0]
    assert f"{COST:.6g}" in lines[0]  # the measured value
    # the command line overrides the file: now both fail, and on the rate too
    both = runner.invoke(
        app,
        [
            "check",
            str(passing),
            str(failing),
            "--max-cost",
            "0.01",
            "--max-rate",
            f"inspector={RATE / 2}",
            "-f",
            "jsonl",
        ],
    )
    assert both.exit_code == 1
    docs = [json.loads(line) for line in both.stdout.splitlines()]
    assert all(d["requirements_met"] is False for d in docs)
    assert all(
        {f["requirement"] for f in d["failed_requirements"]} == {"max_cost", "max_rate.inspector"}
        for d in docs
    )


def test_check_github_annotations_point_at_the_requirement(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = spec_with(f"max_cost = {COST / 2}")
    path = write(tmp_path, "gate", text)
    line = next(k for k, row in enumerate(text.splitlines(), 1) if row.startswith("max_cost"))
    result = runner.invoke(app, ["check", str(path), "-f", "github"])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::error file={path},line={line},")
    assert "max_cost" in result.stdout


def test_check_usage_errors_and_bad_files(runner: CliRunner, tmp_path: Path) -> None:
    good = write(tmp_path, "good", spec_with(""))
    assert runner.invoke(app, ["check", str(good), "--max-rate", "inspector"]).exit_code == 2
    assert runner.invoke(app, ["check", str(good), "--max-rate", "inspector=2"]).exit_code == 2
    broken = write(tmp_path, "broken", "[[actions]\n")
    result = runner.invoke(app, ["check", str(good), str(broken), "-f", "junit"])
    assert result.exit_code == 2
    assert "<error" in result.stdout and "Traceback" not in result.stderr
