"""A batch that will use workers starts their server (the solver's import) first thing,
before the command line loads (``cli/entry.py``, ``solver/batch/processes.py``); a batch
solved in this process, a Dask batch or a request for help starts nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from deter.cli import entry
from deter.solver.batch import processes

from tests.support.batch_helpers import one_action_spec


def folder_of(path: Path, count: int) -> Path:
    path.mkdir()
    for k in range(count):
        text = one_action_spec(gain=1.0 + k / max(count, 1), cap=10.0, detection=0.5)
        (path / f"s{k:03d}.toml").write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def started(monkeypatch) -> list[bool]:
    calls: list[bool] = []
    monkeypatch.setattr(processes, "start_server", lambda: calls.append(True))
    return calls


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("start")
    large = folder_of(root / "large", processes.INLINE_LIMIT + 1)
    small = folder_of(root / "small", 3)
    return str(large), str(small)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["batch", "{large}"], True),
        (["check", "{large}", "-f", "json"], True),
        (["batch", "{large}", "--executor", "local"], True),
        (["batch", "{small}"], False),  # solved in this process
        (["batch", "{small}", "--timeout", "5"], True),  # a timeout always uses workers
        (["batch", "{small}", "--timeout=5"], True),
        (["batch", "{large}", "--executor", "dask"], False),
        (["batch", "{large}", "--executor=dask"], False),
        (["batch", "{large}", "--help"], False),
        (["batch", "-h"], False),
        (["solve", "{large}"], False),
        (["validate", "{large}"], False),
        ([], False),
    ],
)
def test_the_server_starts_only_for_a_batch_that_uses_workers(
    args: list[str], expected: bool, folders: tuple[str, str], started: list[bool]
) -> None:
    large, small = folders
    entry._start_batch_workers([a.format(large=large, small=small) for a in args])
    assert started == ([True] if expected else [])


def test_a_batch_from_the_command_line_uses_the_early_server(folders) -> None:
    """End to end through ``python -m deter``: the answers are those of the same batch run
    inside a process (its own pool, started without the entry point)."""
    from deter.cli.app import app
    from typer.testing import CliRunner

    large, _ = folders
    run = subprocess.run(
        [sys.executable, "-m", "deter", "batch", large, "-f", "json", "--no-timing"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    inside = CliRunner().invoke(app, ["batch", large, "-f", "json", "--no-timing"])
    assert inside.exit_code == 0, inside.output
    assert json.loads(run.stdout) == json.loads(inside.stdout)


SERVER_MASK = """
from multiprocessing import forkserver
from deter.solver.batch import processes
processes.start_server()
pid = forkserver._forkserver._forkserver_pid
with open(f"/proc/{pid}/status") as status:
    print(next(line for line in status if line.startswith("SigBlk:")).split()[1])
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux /proc")
def test_the_server_starts_deaf_to_ctrl_c() -> None:
    """Ctrl-C reaches the whole process group; the server must not take it while it imports
    the solver (it would die with a traceback while the batch stops cleanly)."""
    import signal

    done = subprocess.run(
        [sys.executable, "-c", SERVER_MASK], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    blocked = int(done.stdout.split()[-1], 16)
    assert blocked & (1 << (signal.SIGINT - 1))


@pytest.mark.parametrize("delay", [0.3, 0.8])
def test_ctrl_c_while_the_workers_server_loads_exits_130_without_a_traceback(
    folders, delay: float
) -> None:
    import os
    import signal
    import time

    large, _ = folders
    run = subprocess.Popen(
        [sys.executable, "-m", "deter", "batch", large, "-f", "jsonl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's
    )
    time.sleep(delay)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_a_worker_whose_pool_is_gone_starts_without_a_traceback(capsys) -> None:  # type: ignore[no-untyped-def]
    """The server's hook (``batch/server_hooks.py``): a worker forked as the batch stops finds
    its pool's semaphores released (FileNotFoundError while unpickling them) and says
    nothing; any other failure keeps its traceback."""
    import sys
    from multiprocessing import synchronize

    previous = sys.excepthook  # importing the module sets its hook: this process keeps its own
    from deter.solver.batch import processes, server_hooks

    assert processes.PRELOAD[0] == "deter.solver.batch.server_hooks"
    try:
        lock = synchronize.Lock.__new__(synchronize.Lock)
        try:  # a semaphore that is gone, as the pool's are when the batch has stopped
            lock.__setstate__((0, 1, 1, "/deter-gone-semaphore-0"))
        except OSError:
            gone = sys.exc_info()
        else:
            raise AssertionError("rebuilding a released semaphore did not fail")
        server_hooks.quiet_when_the_pool_is_gone(*gone)  # type: ignore[arg-type]
        assert capsys.readouterr().err == ""
        try:
            raise FileNotFoundError(2, "No such file or directory", "spec.toml")
        except OSError:
            other = sys.exc_info()
        server_hooks.quiet_when_the_pool_is_gone(*other)  # type: ignore[arg-type]
        assert "Traceback" in capsys.readouterr().err
    finally:
        sys.excepthook = previous
