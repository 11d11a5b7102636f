"""Every file deter writes goes through ``solver/report/files.py:write_atomic`` (issue 7):
the old file or the new one, never a part, and no temporary left behind.

The batch ledger is the one exception by design: an append-only log, fsynced per chunk,
whose torn last line is ignored on reading (tests/test_interrupts.py).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from deter.solver.report.files import write_atomic

from tests.support.paths import ROOT

ROOT = ROOT
PACKAGE = [*ROOT.glob("api/**/*.py"), *ROOT.glob("cli/**/*.py"), *ROOT.glob("solver/**/*.py")]
#: Ways of writing a file other than write_atomic.
DIRECT_WRITE = re.compile(
    r"""open\([^)]*["'](?:w|a|x|wb|ab|xb|w\+|a\+)["']|\.write_text\(|\.write_bytes\("""
    r"""|savefig\((?!buffer)|os\.open\([^)]*O_(?:WRONLY|RDWR)"""
)
#: (file, the line's text) of the writes allowed: the ledger's append and os.devnull.
ALLOWED = {
    ("solver/batch/run.py", 'open(self.path, "a"'),
    ("solver/batch/run.py", 'open(os.devnull, "w")'),
    # the same two, where the batch engine keeps them once split (ledger.py, worker.py)
    ("solver/batch/ledger.py", 'open(self.path, "a"'),
    ("solver/batch/worker.py", 'open(os.devnull, "w")'),
    ("solver/formulation/program.py", "os.open(os.devnull, os.O_WRONLY)"),
    # a closed pipe: stdout is pointed at /dev/null so that the exit's flush is quiet
    ("cli/common.py", "os.open(os.devnull, os.O_WRONLY)"),
}


def test_no_module_writes_a_file_except_through_write_atomic() -> None:
    found = set()
    for path in PACKAGE:
        relative = path.relative_to(ROOT).as_posix()
        if relative == "solver/report/files.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if DIRECT_WRITE.search(line):
                allowed = any(relative == f and text in line for f, text in ALLOWED)
                if not allowed:
                    found.add(f"{relative}: {line.strip()}")
    assert not found, "write these through solver/report/files.py:write_atomic:\n" + "\n".join(
        found
    )


def test_the_pattern_catches_direct_writes() -> None:
    for line in (
        'open(path, "w")',
        "Path(p).write_text(text)",
        "figure.savefig(path)",
        "os.open(p, os.O_WRONLY | os.O_CREAT)",
    ):
        assert DIRECT_WRITE.search(line), line
    assert not DIRECT_WRITE.search("figure.savefig(buffer, format=fmt)")


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failure_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_atomic(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_missing_folder_is_named_as_the_users_file(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.json"
    with pytest.raises(OSError) as error:
        write_atomic(target, "x")
    assert str(target) in str(error.value) and ".tmp" not in str(error.value)


def test_refuses_a_device_and_leaves_it_alone() -> None:
    from deter.solver.report.files import UnsafeOutput

    with pytest.raises(UnsafeOutput, match="is a device"):
        write_atomic(Path("/dev/null"), "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_refuses_an_input_by_any_name(tmp_path: Path) -> None:
    from deter.solver.report.files import UnsafeOutput, input_scope, remember_input

    spec = tmp_path / "spec.toml"
    spec.write_text("keep")
    link = tmp_path / "link.toml"
    link.symlink_to(spec)
    with pytest.raises(UnsafeOutput, match="is an input"):
        write_atomic(link, "x", inputs=[spec])
    with input_scope():
        remember_input(spec)
        with pytest.raises(UnsafeOutput):
            write_atomic(spec, "x")
    write_atomic(tmp_path / "other.txt", "fine", inputs=[spec])  # another file is written
    assert spec.read_text() == "keep"


def test_writes_through_a_symlink_atomically(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["real.txt"]


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "{spec}", "--vary", "agent.penalty_cap=5:20:3", "-f", "csv"],
        ["frontier", "{spec}", "-f", "csv"],
        ["simulate", "{spec}", "--episodes", "20", "--population", "3", "-f", "json"],
    ],
    ids=lambda a: a[0],
)
def test_a_plot_that_cannot_be_written_leaves_no_output_written(
    tmp_path: Path, runner, args: list[str]
) -> None:
    """-o and --plot are both checked before any solve: a --plot into a missing folder used
    to fail (exit 2) after -o was written."""
    from deter.cli.app import app

    from tests.support.batch_helpers import one_action_spec

    spec = tmp_path / "spec.toml"
    spec.write_text(one_action_spec(1.0, 10.0, 0.5))
    out = tmp_path / "out.txt"
    command = [a.format(spec=spec) for a in args]
    command += ["-o", str(out), "--plot", str(tmp_path / "missing" / "plot.png")]
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "No such file or directory" in result.stderr
    assert not out.exists()
