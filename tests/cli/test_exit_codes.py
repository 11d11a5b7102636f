"""Every command ends through one guard and one exit-code table (issue 21 items 1, 2, 4;
issue 25 item 7): its error paths give one located line and a code from
``cli/exit_codes.py``, never a traceback; a closed pipe stops quietly with 141; Ctrl-C is
130 wherever it lands; an error that names no file says the reason, never ``: reason``.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.core
from deter.cli import app as cli_app
from deter.cli.app import app
from deter.cli.common import os_error_text
from deter.cli.exit_codes import ANY_COMMAND, COMMAND_CODES, ExitCode
from deter.cli.options import COMMAND_FORMATS
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import PROBLEMS

CODING = str(PROBLEMS / "coding_agent.toml")
MINIMAL = str(PROBLEMS / "minimal.toml")
ROC = str(PROBLEMS / "roc_trusted_monitoring.toml")
INFEASIBLE = str(PROBLEMS / "infeasible" / "undetectable_profitable.toml")
MISSING = "no/such/spec.toml"


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


def cases(tmp: Path) -> dict[str, list[tuple[list[str], ExitCode]]]:
    """For every command, runs that end in each code it can end with (3 needs a solver that
    fails, which no bundled spec gives: tests/engine covers that status's mapping)."""
    bad = tmp / "bad.toml"
    bad.write_text("[agent\n", encoding="utf-8")
    (tmp / "exists.toml").write_text("", encoding="utf-8")
    (tmp / "folder").mkdir()
    out = str(tmp / "out.json")
    return {
        "init": [
            ([], ExitCode.OK),
            (["no-such-template"], ExitCode.BAD_INPUT),
            (["-o", str(tmp / "exists.toml")], ExitCode.BAD_INPUT),
            (["-o", str(tmp / "nodir" / "my.toml")], ExitCode.BAD_INPUT),
            (["-o", str(tmp / "folder"), "--force"], ExitCode.BAD_INPUT),
        ],
        "schema": [
            ([], ExitCode.OK),
            (["-o", str(tmp / "nodir" / "s.json")], ExitCode.BAD_INPUT),
            (["-o", str(tmp / "folder")], ExitCode.BAD_INPUT),
        ],
        "validate": [([MINIMAL], ExitCode.OK), ([str(bad)], ExitCode.BAD_INPUT)],
        "solve": [
            ([MINIMAL], ExitCode.OK),
            ([INFEASIBLE], ExitCode.NOT_MET),
            ([str(bad)], ExitCode.BAD_INPUT),
            ([MISSING], ExitCode.BAD_INPUT),
            ([MINIMAL, "-o", str(tmp / "nodir" / "x")], ExitCode.BAD_INPUT),
        ],
        "batch": [
            ([MINIMAL, "-j", "1"], ExitCode.OK),
            ([INFEASIBLE, "-j", "1"], ExitCode.NOT_MET),
            ([str(bad), "-j", "1"], ExitCode.BAD_INPUT),
            ([MISSING], ExitCode.BAD_INPUT),
        ],
        "check": [
            ([MINIMAL, "-j", "1"], ExitCode.OK),
            ([INFEASIBLE, "-j", "1"], ExitCode.NOT_MET),
            ([str(bad), "-j", "1"], ExitCode.BAD_INPUT),
        ],
        "simulate": [
            ([MINIMAL, "-n", "5"], ExitCode.OK),
            ([INFEASIBLE, "-n", "5"], ExitCode.NOT_MET),
            ([str(bad)], ExitCode.BAD_INPUT),
            ([ROC, "-n", "5"], ExitCode.UNSUPPORTED),
        ],
        "sweep": [
            ([MINIMAL, "--vary", "agent.penalty_cap=10,20"], ExitCode.OK),
            # one point that cannot be met is enough: the worst point's code
            ([MINIMAL, "--vary", "agent.penalty_cap=0.01,20"], ExitCode.NOT_MET),
            ([MINIMAL, "--vary", "no.such.path=1,2"], ExitCode.BAD_INPUT),
        ],
        "frontier": [
            ([MINIMAL, "--from", "1", "--to", "2", "--points", "2"], ExitCode.OK),
            # the spec as written is fine, small factors are not: as sweep, exit 1
            ([CODING, "--from", "0.25", "--to", "1", "--points", "3"], ExitCode.NOT_MET),
            ([str(bad)], ExitCode.BAD_INPUT),
        ],
        "compare": [
            ([MINIMAL, MINIMAL], ExitCode.OK),
            ([MINIMAL, INFEASIBLE], ExitCode.NOT_MET),
            ([MINIMAL, str(bad)], ExitCode.BAD_INPUT),
        ],
        "explain": [
            ([MINIMAL], ExitCode.OK),
            ([INFEASIBLE], ExitCode.NOT_MET),
            ([str(bad)], ExitCode.BAD_INPUT),
        ],
        "report": [
            ([MINIMAL, "-o", str(tmp / "r.html")], ExitCode.OK),
            ([INFEASIBLE, "-o", str(tmp / "i.html")], ExitCode.NOT_MET),
            ([str(bad), "-o", str(tmp / "b.html")], ExitCode.BAD_INPUT),
        ],
        "export": [
            ([MINIMAL, "-o", out], ExitCode.OK),
            ([INFEASIBLE, "-o", out], ExitCode.NOT_MET),
            ([str(bad), "-o", out], ExitCode.BAD_INPUT),
            ([ROC, "-o", out], ExitCode.OK),
        ],
        "fit": [
            ([str(PROBLEMS / "control" / "synthetic_samples.csv"), "--no-band"], ExitCode.OK),
            ([MISSING], ExitCode.BAD_INPUT),
            ([str(bad)], ExitCode.BAD_INPUT),
        ],
        "experiment": [
            (
                [
                    "-o",
                    str(tmp / "e"),
                    "--seeds",
                    "2",
                    "--agents",
                    "1",
                    "--episodes",
                    "10",
                    "--no-plot",
                ],
                ExitCode.OK,
            ),
            (["-o", str(tmp / "exists.toml"), "--seeds", "2"], ExitCode.BAD_INPUT),
            (["-o", str(tmp / "exp"), "--seeds", "1"], ExitCode.BAD_INPUT),
        ],
    }


def test_every_command_ends_with_a_code_of_its_own_from_the_one_table(tmp_path: Path) -> None:
    table = cases(tmp_path)
    assert set(table) == set(COMMAND_CODES)
    for name, runs in table.items():
        allowed = {*COMMAND_CODES[name], *ANY_COMMAND}
        seen = set()
        for args, expected in runs:
            result = invoke(name, *args)
            where = f"deter {name} {' '.join(args)}: {result.stderr}"
            assert result.exit_code == expected, where
            assert expected in allowed, where
            assert "Traceback" not in result.stderr, where
            if expected == ExitCode.BAD_INPUT and name not in ("batch", "check", "validate"):
                # one located line (a usage error: click's own lines); those three report
                # each file in their output
                assert result.stderr.startswith(("error: ", "Usage: ")), where
                assert "error: :" not in result.stderr, where
            seen.add(expected)
        # every code the table promises for the command (bar 3, see cases) is reached
        assert {c for c in COMMAND_CODES[name] if c != ExitCode.SOLVER_FAILED} <= seen, name


def test_init_and_schema_name_the_path_they_cannot_write(tmp_path: Path) -> None:
    result = invoke("init", "-o", str(tmp_path / "specs" / "my.toml"))
    assert result.stderr == f"error: {tmp_path / 'specs' / 'my.toml'}: No such file or directory\n"
    result = invoke("schema", "-o", str(tmp_path / "nodir" / "s.json"))
    assert result.stderr.startswith(f"error: {tmp_path / 'nodir' / 's.json'}: ")


def test_every_command_has_debug() -> None:
    for name in COMMAND_CODES:
        assert "--debug" in invoke(name, "--help").stdout, name


# --- a closed pipe ------------------------------------------------------------------------


class ClosedPipe(io.TextIOBase):
    """stdout whose reader has gone: every write fails as it would on a closed pipe."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self) -> None:
        pass

    def fileno(self) -> int:  # never dup2 over the test runner's own stdout
        raise io.UnsupportedOperation("no file descriptor")

    def isatty(self) -> bool:
        return False


PIPED = {
    "solve": [MINIMAL],
    "validate": [MINIMAL],
    "batch": [MINIMAL, "-j", "1"],
    "check": [MINIMAL, "-j", "1"],
    "simulate": [MINIMAL, "-n", "5"],
    "sweep": [MINIMAL, "--vary", "agent.penalty_cap=10,20"],
    "frontier": [MINIMAL, "--from", "1", "--to", "2", "--points", "2"],
    "compare": [MINIMAL, MINIMAL],
    "explain": [MINIMAL],
}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [(n, f) for n, formats in COMMAND_FORMATS.items() for f in formats if n in PIPED]
    + [("init", ""), ("schema", ""), ("init", "--list"), ("solve", "--help")],
)
def test_a_closed_pipe_stops_quietly_with_141_in_every_command_and_format(
    name: str, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # batch's annotations, and check's table and annotations, list only files that fail
    if (name, fmt) in (("batch", "github"), ("check", "table"), ("check", "github")):
        args = [INFEASIBLE, "-j", "1"]
    else:
        args = PIPED.get(name, []) if fmt != "--help" else []
    extra = ["-f", fmt] if fmt and not fmt.startswith("--") else ([fmt] if fmt else [])
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = cli_app.run([name, *args, *extra, "-q"])
    err = capsys.readouterr().err
    assert code == ExitCode.PIPE_CLOSED, err
    assert err == "", err


def test_a_real_pipe_closed_early_stops_quietly(tmp_path: Path) -> None:
    """The issue's own cases, as a shell runs them: the reader is gone before deter writes."""
    runs = [
        ["batch", MINIMAL, "-f", "jsonl", "-q", "-j", "1"],
        ["check", MINIMAL, "-f", "junit", "-j", "1"],
    ]
    procs = []
    for args in runs:
        read, write = os.pipe()
        os.close(read)  # the reader is gone: every write meets a closed pipe
        procs.append(
            (
                args,
                subprocess.Popen(
                    [sys.executable, "-m", "deter", *args],
                    stdout=write,
                    stderr=subprocess.PIPE,
                    env={**os.environ, **CLI_ENV},
                    cwd=tmp_path,
                ),
            )
        )
        os.close(write)
    for args, proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.PIPE_CLOSED, (args, err)
        assert err.decode() == "", (args, err)


# --- Ctrl-C and errors that name no file --------------------------------------------------


def test_ctrl_c_while_arguments_are_read_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(typer.core.TyperGroup, "parse_args", interrupted)
    assert cli_app.run(["solve", MINIMAL]) == ExitCode.INTERRUPTED
    err = capsys.readouterr().err
    assert err == "interrupted\n" and "Aborted" not in err


def test_a_usage_error_is_2() -> None:
    assert cli_app.run(["solve", "--no-such-option"]) == ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError(errno.EMFILE, "Too many open files"), "Too many open files"),
        (OSError(errno.ENOSPC, "No space left on device", "out.csv"), "out.csv: No space"),
    ],
)
def test_an_os_error_never_reads_colon_reason(exc: OSError, text: str) -> None:
    shown = os_error_text(exc)
    assert shown.startswith(text) and not shown.startswith(":"), shown
    if exc.errno == errno.EMFILE:
        assert "ulimit -n" in shown


class FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_under_batch_output_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write to -o that fails mid-batch names the -o path, not the hidden partial file
    and not nothing (issue 25 item 7)."""
    from deter.solver.report.files import AtomicFile

    monkeypatch.chdir(tmp_path)
    named = AtomicFile("out.jsonl", partial=".out.jsonl.1.partial")
    named.handle.close()
    named.handle = FullDisk()  # type: ignore[assignment]
    for action in (lambda: named.write("x"), named.flush):
        with pytest.raises(OSError) as caught:
            action()
        assert (
            os_error_text(caught.value) == "out.jsonl: No space left on device (the disk is full)"
        )
    named.abort()
    assert not list(tmp_path.iterdir())  # aborted: no hidden file left, no target made


def test_a_full_disk_under_the_ledger_names_the_ledger(tmp_path: Path) -> None:
    from deter.solver.batch.ledger import Ledger
    from deter.solver.batch.outcome import FileOutcome

    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append([FileOutcome(file="a.toml", status="optimal", sha256="0" * 64)], "f")
    ledger._handle = FullDisk()  # type: ignore[assignment]
    with pytest.raises(OSError) as caught:
        ledger.append([FileOutcome(file="b.toml", status="optimal", sha256="1" * 64)], "f")
    assert caught.value.filename == str(tmp_path / "ledger.jsonl")
