"""Issue 25, item 9: what kills leave behind. SIGTERM and SIGHUP stop a batch as Ctrl-C does
(solved work kept, the resume command printed), a killed ``write_atomic`` leaves no temporary
file for good, and an interrupted ``experiment`` leaves no empty folder."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deter.solver.report.files import write_atomic

from tests.support.batch_helpers import slow_spec_folder

N_FILES = 192  # several stacks (run.stacks_of), so the signal lands with some finished


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return slow_spec_folder(tmp_path_factory.mktemp("stop") / "specs", N_FILES, 60)


def _deter(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deter", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_batch_keeping_what_was_solved(
    folder: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    output = tmp_path / "out.jsonl"
    args = ["batch", str(folder), "-f", "jsonl", "--no-timing", "--jobs", "2", "-o", str(output)]
    process = _deter(args, tmp_path)
    partial = tmp_path / f".out.jsonl.{process.pid}.partial"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and partial.stat().st_size > 0:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be stopped"
    if sig == signal.SIGHUP:  # a terminal's hangup reaches the whole process group
        os.killpg(process.pid, sig)
    else:  # kill PID, timeout(1), a service manager: the batch's process only
        os.kill(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr  # stopped, as by Ctrl-C
    assert "Traceback" not in stderr and "internal error" not in stderr
    ledger = tmp_path / ".deter-batch.jsonl"
    kept = [json.loads(line) for line in ledger.read_text().splitlines()]
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert 1 <= len(kept) < N_FILES
    assert [d["file"] for d in written] == [d["outcome"]["file"] for d in kept]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".partial", ".tmp"))]
    # the command it prints is the same batch, resuming from the ledger it kept
    command = shlex.split(stderr.split("to finish the rest, run: ", 1)[1].strip())
    assert command[:2] == ["deter", "batch"]
    assert sorted(command[2:]) == sorted([*args[1:], "--resume", ".deter-batch.jsonl"])


def test_a_temporary_file_left_by_a_killed_write_is_removed_by_the_next(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    # A writer killed (SIGKILL) after its temporary file is written, before the rename.
    script = (
        "import os, sys, time\n"
        "from deter.solver.report import files\n"
        "os.fsync = lambda fd: (print('written', flush=True), time.sleep(600))\n"
        "files.write_atomic(sys.argv[1], 'x' * 1_000_000)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline() == "written\n"
    writer.kill()
    writer.wait(10)
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and f".{writer.pid}." in left[0].name  # found by its process
    # one of a process still running is another write under way: left alone
    running = tmp_path / f".report.html.{os.getpid()}.abcd1234.tmp"
    running.write_text("in progress")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report.html", running.name])


def test_an_interrupted_experiment_leaves_no_empty_folder(tmp_path: Path) -> None:
    output = tmp_path / "runs" / "exp"
    process = _deter(
        ["experiment", "-o", str(output), "--episodes", "1000000", "--no-plot"], tmp_path
    )
    time.sleep(4)  # inside the experiment (imports and start-up take about a second)
    assert process.poll() is None, process.communicate()[1]
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert not output.exists() and not (tmp_path / "runs").exists()


def test_a_pool_wakeup_closed_in_a_race_at_exit_stays_quiet() -> None:
    """The 50-run loop once printed a traceback after a SIGHUP stop (exit 130, work kept):
    concurrent.futures' exit hook checked that a pool's wakeup pipe was open, then its
    manager thread closed it, then the write failed with EBADF. The batch's pools make
    that race quiet; an error on a pipe nobody closed is still raised."""
    import errno
    from concurrent.futures import process

    from deter.solver.batch import run

    class Racing:
        def __init__(self, wakeup: process._ThreadWakeup, closes: bool) -> None:
            self.wakeup, self.closes = wakeup, closes

        def send_bytes(self, data: bytes) -> None:
            if self.closes:
                self.wakeup._closed = True  # the manager thread, in between
            raise OSError(errno.EBADF, "Bad file descriptor")

    run._wakeups_closed_in_a_race_stay_quiet()
    raced, broken = process._ThreadWakeup(), process._ThreadWakeup()
    for wakeup, closes in ((raced, True), (broken, False)):
        wakeup._writer.close()
        wakeup._writer = Racing(wakeup, closes)  # type: ignore[assignment]
    raced.wakeup()  # quiet
    with pytest.raises(OSError):
        broken.wakeup()
    for wakeup in (raced, broken):
        wakeup._reader.close()
