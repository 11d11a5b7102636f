"""One vocabulary across commands (issue 15): the same --format names, the same JSON
envelope, the same options and the same exit codes everywhere, each command in the README,
tables that fit the terminal, and a first hour that starts with ``deter init``."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from deter.cli.app import app
from deter.cli.exit_codes import ANY_COMMAND, COMMAND_CODES, MEANING, ExitCode, codes_help
from deter.cli.options import (
    COMMAND_FORMATS,
    DOCUMENT_FORMATS,
    JSON_KINDS,
    Color,
    OutputFormat,
    Solver,
)
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import ROOT

PROBLEMS = ROOT / "problems"
MINIMAL = str(PROBLEMS / "minimal.toml")
CODING = str(PROBLEMS / "coding_agent.toml")
GROUP = typer.main.get_command(app)
COMMANDS: dict[str, Any] = GROUP.commands  # type: ignore[attr-defined]


def option(name: str, flag: str) -> Any:
    ctx = GROUP.make_context("deter", [name, "--help"], resilient_parsing=True)
    for param in COMMANDS[name].get_params(ctx):
        if flag in getattr(param, "opts", []):
            return param
    return None


def choices(param: Any) -> tuple[str, ...]:
    return tuple(getattr(c, "value", str(c)) for c in param.type_descriptor.choices)


def invoke(*args: str, columns: int = 100) -> Any:
    runner = CliRunner(env={**CLI_ENV, "COLUMNS": str(columns)})
    return runner.invoke(app, list(args), catch_exceptions=False)


# --- formats and options ------------------------------------------------------------------


def test_the_tables_cover_every_command() -> None:
    assert set(COMMANDS) == set(COMMAND_CODES)
    assert set(COMMAND_FORMATS) <= set(COMMANDS) and set(JSON_KINDS) <= set(COMMAND_FORMATS)
    assert set(DOCUMENT_FORMATS) <= set(COMMANDS)
    assert not set(DOCUMENT_FORMATS) & set(COMMAND_FORMATS)


@pytest.mark.parametrize("name", sorted(COMMAND_CODES))
def test_format_choices_come_from_the_one_vocabulary(name: str) -> None:
    fmt = option(name, "--format")
    if name in DOCUMENT_FORMATS:  # a document written to -o: its format, by suffix or --format
        assert fmt is not None and fmt.default is None
        assert choices(fmt) == DOCUMENT_FORMATS[name]
        assert not set(choices(fmt)) & set(COMMAND_FORMATS.get(name, ()))
        return
    if name not in COMMAND_FORMATS:
        assert fmt is None, f"{name} has a --format that the vocabulary does not list"
        return
    assert fmt is not None and "-f" in fmt.opts
    assert choices(fmt) == COMMAND_FORMATS[name]
    assert set(choices(fmt)) <= {f.value for f in OutputFormat}
    assert str(fmt.default) == COMMAND_FORMATS[name][0]
    # prose is "text", columns are "table": never both on one command
    assert not {"text", "table"} <= set(choices(fmt))
    # every command with a machine format has JSON in the one envelope
    assert "json" in choices(fmt) and name in JSON_KINDS


@pytest.mark.parametrize("name", sorted(COMMAND_CODES))
def test_every_command_takes_quiet_verbose_and_color(name: str) -> None:
    assert option(name, "-q") is not None and option(name, "--quiet") is not None
    assert option(name, "-v") is not None and option(name, "--verbose") is not None
    assert choices(option(name, "--color")) == tuple(c.value for c in Color)


#: Every command that solves takes the same --solver choice.
SOLVING = [
    "solve",
    "batch",
    "check",
    "export",
    "sweep",
    "frontier",
    "compare",
    "explain",
    "report",
    "simulate",
]


@pytest.mark.parametrize("name", SOLVING)
def test_solver_is_a_fixed_choice(name: str) -> None:
    assert choices(option(name, "--solver")) == tuple(s.value for s in Solver)
    result = invoke(name, MINIMAL, "--solver", "gurobi", *(["-o", "-"] if name == "export" else []))
    assert result.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("name", ["solve", "batch", "check", "sweep", "simulate"])
def test_no_timing_wherever_timing_is_shown(name: str) -> None:
    assert option(name, "--no-timing") is not None


@pytest.mark.parametrize("name", sorted(COMMAND_CODES))
def test_help_reads_plainly_and_lists_the_exit_codes(name: str) -> None:
    text = invoke(name, "--help", columns=200).stdout
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: deter {name} [OPTIONS]")
    assert "{" not in usage, usage  # 'deter solve [OPTIONS] SPEC', not '{spec}'
    assert not re.search(r"<(list\[|int range|float range|str>|path>)", text), text
    assert codes_help(*COMMAND_CODES[name], *ANY_COMMAND) in " ".join(text.split())


def test_top_level_help_never_cuts_a_summary() -> None:
    text = invoke("--help", columns=80).stdout
    commands = text[text.index("Commands:") :]
    assert "..." not in commands
    assert "--install-completion" in text  # shell completion


# --- JSON envelope, CSV ------------------------------------------------------------------

JSON_RUNS = {
    "solve": ["solve", MINIMAL],
    "validate": ["validate", MINIMAL],
    "batch": ["batch", MINIMAL, "-j", "1"],
    "check": ["check", MINIMAL, "-j", "1"],
    "simulate": ["simulate", MINIMAL, "-n", "20", "-k", "10"],
    "sweep": ["sweep", MINIMAL, "--vary", "agent.penalty_cap=10,20"],
    "frontier": ["frontier", MINIMAL, "--points", "3", "--from", "1", "--to", "2"],
    "compare": ["compare", MINIMAL, MINIMAL],
    "explain": ["explain", MINIMAL],
}


@pytest.mark.parametrize("name", sorted(JSON_KINDS))
def test_every_json_output_has_the_one_envelope(name: str) -> None:
    result = invoke(*JSON_RUNS[name], "-f", "json")
    assert result.exit_code == ExitCode.OK, result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    assert list(doc)[:2] == ["schema_version", "kind"]
    assert (doc["schema_version"], doc["kind"]) == (1, JSON_KINDS[name])


def test_lists_sit_under_a_documented_key() -> None:
    sweep = json.loads(invoke(*JSON_RUNS["sweep"], "-f", "json").stdout)
    assert [p["agent.penalty_cap"] for p in sweep["points"]] == [10.0, 20.0]
    files = json.loads(invoke(*JSON_RUNS["validate"], "-f", "json").stdout)["files"]
    assert files[0]["valid"] is True


@pytest.mark.parametrize("name", ["solve", "sweep", "compare"])
def test_csv_booleans_are_lowercase(name: str) -> None:
    text = invoke(*JSON_RUNS[name], "-f", "csv").stdout
    cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
    assert "True" not in cells and "False" not in cells
    assert cells & {"true", "false"}, text


# --- exit codes ---------------------------------------------------------------------------


def test_exit_codes_are_documented_once_and_repeated_everywhere() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 130, 141]
    assert set(MEANING) == set(ExitCode)
    spec_format = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", spec_format, re.M), f"docs lack exit {code}"
        assert re.search(rf"^\| {int(code)} \|", readme, re.M), f"README lacks exit {code}"


def test_a_valid_spec_a_command_does_not_support_exits_4() -> None:
    result = invoke("simulate", str(PROBLEMS / "roc_trusted_monitoring.toml"), "-n", "5")
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert "not supported" in result.stderr


def test_a_missing_path_is_a_usage_error_before_any_work() -> None:
    for name in ("validate", "batch", "check"):
        result = invoke(name, MINIMAL, "no/such/spec.toml")
        assert result.exit_code == ExitCode.BAD_INPUT
        assert result.stdout == "" and "no/such/spec.toml" in result.stderr


def test_validate_takes_folders_like_batch() -> None:
    result = invoke("validate", str(PROBLEMS))
    assert result.exit_code == ExitCode.OK
    assert "coding_agent.toml: ok" in result.stdout


def test_bundled_problems_pass_check() -> None:
    """No bundled problem fails `deter check` for leaving an action undeterred on purpose
    (min_loss); only problems/infeasible/ fails, on purpose."""
    result = invoke("check", str(PROBLEMS), "-f", "json", "-j", "2")
    doc = json.loads(result.stdout)
    failed = {Path(r["file"]).parent.name for r in doc["results"] if r["failed_requirements"]}
    assert failed == {"infeasible"}
    assert doc["counts"]["requirements_failed"] == 2


def test_check_did_you_mean_for_a_misspelt_monitor() -> None:
    result = invoke("check", CODING, "--max-rate", "human_reveiw=0.05", "-j", "1")
    assert result.exit_code == ExitCode.NOT_MET
    assert "did you mean 'human_review'" in result.stdout


# --- quiet, verbose, colour ---------------------------------------------------------------


def test_quiet_silences_notes_and_summaries() -> None:
    loud = invoke("check", MINIMAL, "-j", "1")
    assert "summary" in loud.stderr
    assert invoke("check", MINIMAL, "-j", "1", "-q").stderr == ""
    github = invoke("check", MINIMAL, "-j", "1", "-f", "github")
    assert len(github.stderr.splitlines()) == 1  # one line after a machine format
    assert "summary" in invoke("check", MINIMAL, "-j", "1", "-f", "github", "-v").stderr


def test_color_always_and_never() -> None:
    assert "\x1b[" in invoke("solve", MINIMAL, "--color", "always").stdout
    assert "\x1b[" not in invoke("solve", MINIMAL, "--color", "never").stdout


# --- tables ------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 100])
@pytest.mark.parametrize(
    "args",
    [
        ["solve", CODING],
        ["compare", CODING, str(PROBLEMS / "tax_audit.toml")],
        ["sweep", CODING, "--vary", "agent.penalty_cap=10,20", "--vary", "agent.margin=0,1"],
    ],
    ids=["solve", "compare", "sweep"],
)
def test_tables_fit_the_terminal_and_keep_every_number(columns: int, args: list[str]) -> None:
    result = invoke(*args, columns=columns)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, result.stdout
    assert "…" not in result.stdout
    assert all(line == line.rstrip() for line in lines), "trailing spaces"
    if args[0] == "solve":  # every column survives: Net and Shadow too
        assert "Net" in result.stdout and "Shadow" in result.stdout
        assert "1.58888" in result.stdout


def test_markdown_shows_the_status_and_no_stray_bullets() -> None:
    text = invoke("solve", CODING, "-f", "markdown").stdout
    assert "**status: optimal**" in text
    assert not any(line.startswith("* ") for line in text.splitlines())


# --- README and the first hour ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMAND_CODES))
def test_every_command_appears_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"`deter {re.escape(name)}\b", readme), f"README never shows deter {name}"


def test_init_lists_and_writes_templates(tmp_path: Path) -> None:
    listing = invoke("init", "--list").stdout
    assert listing.startswith("starter") and "coding_agent" in listing
    target = tmp_path / "mine.toml"
    assert invoke("init", "-o", str(target)).exit_code == ExitCode.OK
    text = target.read_text(encoding="utf-8")
    assert text.startswith("#:schema ./deter.schema.json\n")
    assert json.loads((tmp_path / "deter.schema.json").read_text())["title"]
    assert invoke("validate", str(target)).exit_code == ExitCode.OK
    assert invoke("solve", str(target)).exit_code == ExitCode.OK
    assert invoke("check", str(target), "-j", "1").exit_code == ExitCode.OK
    # an existing file is kept unless --force; a bundled problem by name
    assert invoke("init", "-o", str(target)).exit_code == ExitCode.BAD_INPUT
    assert invoke("init", "coding_agent", "-o", str(target), "--force").exit_code == 0
    assert "reward_hack" in target.read_text(encoding="utf-8")
    wrong = invoke("init", "coding_agnet")
    assert wrong.exit_code == ExitCode.BAD_INPUT and "did you mean 'coding_agent'" in wrong.stderr
