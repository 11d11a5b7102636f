"""Hostile files, paths and signals (issue 14) through the command line: what deter reads,
where it writes, and what reaches a terminal, a spreadsheet, a CI parser or a plot."""

from __future__ import annotations

import json
import os
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from deter.cli.app import app
from typer.testing import CliRunner

from tests.support.reference import TWO_ACTIONS

SpecWriter = Callable[..., Path]


def run(runner: CliRunner, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def named(name: str, currency: str = "") -> str:
    """TWO_ACTIONS with a [problem] name (and currency) as a TOML basic string."""
    quoted = json.dumps(name)  # JSON string escapes are TOML basic-string escapes
    extra = f"currency = {json.dumps(currency)}\n" if currency else ""
    return f"[problem]\nname = {quoted}\n{extra}\n" + TWO_ACTIONS.text


@pytest.fixture
def good(write_spec: SpecWriter) -> Path:
    return write_spec(TWO_ACTIONS.text, "two")


# --- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_a_device_is_refused(runner: CliRunner, command: str) -> None:
    result = run(runner, command, "/dev/zero")
    assert result.exit_code == 2
    assert "is a device, not a regular file" in result.stderr


@pytest.mark.timeout(20)
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_a_fifo_does_not_hang(runner: CliRunner, tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    result = run(runner, command, str(fifo))
    assert result.exit_code == 2 and "FIFO" in result.stderr


def test_a_byte_order_mark_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TWO_ACTIONS.text.encode())
    assert run(runner, "validate", str(path)).exit_code == 0
    assert run(runner, "validate", "-", input="\ufeff" + TWO_ACTIONS.text).exit_code == 0


# --- writing ----------------------------------------------------------------------------


def test_output_onto_a_device_is_refused(runner: CliRunner, good: Path) -> None:
    before = os.stat("/dev/null")
    result = run(runner, "solve", str(good), "-f", "json", "-o", "/dev/null")
    assert result.exit_code == 2
    assert "/dev/null: is a device" in result.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_output_onto_a_fifo_is_refused(runner: CliRunner, good: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    result = run(runner, "solve", str(good), "-o", str(fifo))
    assert result.exit_code == 2 and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_through_a_symlink_writes_its_target(
    runner: CliRunner, good: Path, tmp_path: Path
) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run(runner, "solve", str(good), "-f", "csv", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("kind,name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv", "two.toml"]


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "{spec}"],
        ["solve", "{spec}", "-f", "json"],
        ["explain", "{spec}"],
        ["frontier", "{spec}", "--points", "2"],
        ["sweep", "{spec}", "--vary", "actions.a.gain=1:2:2"],
        ["report", "{spec}"],
        ["compare", "{spec}", "{spec}"],
        ["simulate", "{spec}", "-n", "10", "-k", "2"],
    ],
)
def test_output_over_the_input_spec_is_refused(
    runner: CliRunner, good: Path, tmp_path: Path, args: list[str]
) -> None:
    text = good.read_text()
    hard = tmp_path / "hard.toml"
    os.link(good, hard)
    for output in (good, hard):  # by any name: compared by device and inode
        argv = [a.replace("{spec}", str(good)) for a in args]
        result = run(runner, *argv, "-o", str(output))
        assert result.exit_code == 2, result.stderr
        assert "is an input of this command" in result.stderr
        assert good.read_text() == text


def test_output_dash_is_stdout(
    runner: CliRunner, good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(runner, "solve", str(good), "-f", "csv", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("kind,name")
    assert not (tmp_path / "-").exists()


def test_output_onto_a_folder_names_the_folder_not_a_temporary(
    runner: CliRunner, good: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = run(runner, "solve", str(good), "-o", str(folder))
    assert result.exit_code == 2
    assert str(folder) in result.stderr and ".tmp" not in result.stderr
    assert list(folder.iterdir()) == []


# --- outputs that other programs parse --------------------------------------------------


ANSI = "\x1b[2J\x1b[31mevil\x1b]0;title\x07"


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "{spec}"],
        ["solve", "{spec}", "-f", "markdown"],
        ["explain", "{spec}"],
        ["explain", "{spec}", "-f", "markdown"],
        ["sweep", "{spec}", "--vary", "actions.a.gain=1:2:2"],
        ["frontier", "{spec}", "--points", "2", "--from", "1", "--to", "2"],
        ["compare", "{spec}", "{spec}"],
        ["simulate", "{spec}", "-n", "10", "-k", "2"],
    ],
)
def test_no_escape_sequence_from_a_spec_reaches_the_terminal(
    runner: CliRunner, write_spec: SpecWriter, args: list[str]
) -> None:
    spec = write_spec(named(ANSI, currency="\x1b[5m$"), "ansi")
    result = run(runner, *[a.replace("{spec}", str(spec)) for a in args])
    assert result.exit_code == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "x1b" in result.stdout  # shown, escaped


def test_markdown_shows_html_from_a_spec_as_text(runner: CliRunner, write_spec: SpecWriter) -> None:
    spec = write_spec(named("<script>alert(1)</script> [x](javascript:y)"), "html")
    for command in ("solve", "explain"):
        out = run(runner, command, str(spec), "-f", "markdown").stdout
        assert "<script>" not in out and "&lt;script&gt;" in out
        assert "[x](" not in out and "\\[x\\](" in out


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil","x")', "+1+2", "-1+2", "@SUM(A1)"])
def test_csv_never_starts_a_cell_with_a_formula(
    runner: CliRunner, write_spec: SpecWriter, name: str
) -> None:
    spec = write_spec(named(name), "formula")
    out = run(runner, "solve", str(spec), "-f", "csv").stdout
    total = out.splitlines()[1]
    assert total.startswith("total,'" + name[0]) or total.startswith("total,\"'" + name[0])


def test_a_newline_in_a_key_cannot_forge_an_error_line(
    runner: CliRunner, write_spec: SpecWriter
) -> None:
    spec = write_spec('[problem]\n"x\\nerror: all good\\u001b[2K" = 1\n' + TWO_ACTIONS.text, "nl")
    result = run(runner, "validate", str(spec))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "\\nerror: all good\\x1b[2K" in lines[0]


def test_junit_stays_valid_xml_with_control_characters_in_keys(
    runner: CliRunner, write_spec: SpecWriter
) -> None:
    spec = write_spec('[problem]\n"bad\\u0001key\\u001b" = 1\n' + TWO_ACTIONS.text, "ctl")
    result = run(runner, "batch", str(spec), "-f", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)  # raised "not well-formed" before
    assert root.find(".//error") is not None


def test_dollars_in_a_name_are_text_in_plots_and_reports(
    runner: CliRunner, write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = write_spec(named(r"$\foo$ and $x$", currency=r"$\bar$"), "dollars")
    html = tmp_path / "r.html"
    result = run(runner, "report", str(spec), "-o", str(html))
    assert result.exit_code == 0, result.stderr
    plot = tmp_path / "p.png"
    args = ["sweep", str(spec), "--vary", "actions.a.gain=1:2:2", "--plot", str(plot)]
    assert run(runner, *args).exit_code == 0
    assert plot.stat().st_size > 0
    svg = tmp_path / "f.svg"
    args = ["--points", "2", "--from", "1", "--to", "2", "--plot", str(svg)]
    assert run(runner, "frontier", str(spec), *args).exit_code == 0


def test_solver_error_json_is_deterministic_without_timing(
    runner: CliRunner, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A solver's exception quoted in the message (its text holds an object's address)."""
    import cvxpy as cp
    import deter.solver.formulation.program as program

    calls = iter(range(1000))

    def broken(*args: object, **kwargs: object) -> None:
        raise cp.error.SolverError(f"<highspy.Highs object at 0x7f00{next(calls):08x}> failed")

    monkeypatch.setattr(program.CompiledProgram, "solve", broken)
    first = run(runner, "solve", str(good), "-f", "json", "--no-timing")
    second = run(runner, "solve", str(good), "-f", "json", "--no-timing")
    assert first.exit_code == 3
    assert json.loads(first.stdout)["status"] == "solver_error"
    assert first.stdout == second.stdout and "0x7f00" not in first.stdout


# --- bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--episodes", "1000000000"],
        ["--population", "1000000000"],
        ["--episodes", "1000000", "--population", "100000"],
    ],
)
def test_simulate_is_bounded(runner: CliRunner, good: Path, args: list[str]) -> None:
    result = run(runner, "simulate", str(good), *args)
    assert result.exit_code == 2
    assert "limit" in result.stderr or "less than or equal" in result.stderr


def test_the_library_limits_are_those_in_help() -> None:
    from deter.solver.simulation import simulate

    assert simulate.MAX_EPISODES == 1_000_000 and simulate.MAX_POPULATION == 1_000_000


def test_every_count_option_has_a_bound() -> None:
    """Every integer option of every command has a maximum (batch and check: their owner)."""
    import typer.main

    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    unbounded, counted = [], 0
    for name, command in commands.items():
        if name in ("batch", "check"):
            continue
        for param in command.params:
            if getattr(param, "min", None) is None or param.name == "seed":
                continue  # not a count or a range; a seed is any integer
            counted += 1
            if getattr(param, "max", None) is None:
                unbounded.append(f"{name} {param.opts[0]}")
    assert counted >= 10 and not unbounded, unbounded


def test_a_missing_optional_dependency_is_a_usage_error(
    runner: CliRunner, good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run(runner, "report", str(good), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 2
    assert "pip install matplotlib" in result.stderr


def test_an_import_of_a_missing_extra_inside_a_command_says_what_to_install(
    runner: CliRunner, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deter.solver.problem as problem

    def needs_gymnasium(*args: object, **kwargs: object) -> None:
        import gymnasium  # noqa: F401

    monkeypatch.setitem(sys.modules, "gymnasium", None)
    monkeypatch.setattr(problem.Problem, "solve", needs_gymnasium)
    result = run(runner, "solve", str(good))
    assert result.exit_code == 2
    assert "pip install 'deter[rl]'" in result.stderr and "internal error" not in result.stderr


def test_deter_rl_without_gymnasium_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    monkeypatch.delitem(sys.modules, "deter.rl", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'deter\[rl\]'"):
        import deter.rl  # noqa: F401


def test_ctrl_c_exits_130(runner: CliRunner, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import deter.solver.problem as problem

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(problem.Problem, "solve", interrupted)
    result = run(runner, "solve", str(good))
    assert result.exit_code == 130 and "interrupted" in result.stderr
