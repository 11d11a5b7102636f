"""Issue #14's batch items, each with its regression: workers die with the batch's
process, unreadable ledger lines are skipped, Ctrl-C exits 130 with the full command,
``--timeout`` is bounded, ``--executor dask`` without the extra is a usage error, and a
FIFO among the files is refused, never waited on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.batch.ledger import Ledger
from deter.solver.batch.outcome import file_sha256
from deter.solver.batch.run import run_batch
from deter.solver.batch.worker import BatchOptions
from typer.testing import CliRunner

from tests.support.batch_helpers import one_action_spec, two_action_spec


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and int(entry.name) not in found:
                found.add(int(entry.name))
                frontier.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux /proc")
def test_workers_die_with_a_killed_batch_process(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    actions = "".join(f'\n[[actions]]\nname = "x{k}"\ngain = {-0.01 * k}\n' for k in range(150))
    for k in range(600):
        (folder / f"s{k:03d}.toml").write_text(two_action_spec(1.0 + k / 1000) + actions)
    process = subprocess.Popen(
        [sys.executable, "-m", "deter", "batch", str(folder), "-f", "jsonl", "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 3:  # forkserver + 2 workers
        workers = _children(process.pid)
        time.sleep(0.1)
    assert workers, "no worker started"
    process.kill()  # SIGKILL: no cleanup in the parent at all
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)]
    # nobody holds the output pipe open any more (`deter batch | tee` ends)
    assert process.stdout is not None
    process.stdout.read()


def test_ledger_lines_that_are_not_entries_are_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "a.toml"
    spec.write_text(one_action_spec(1.0, 10.0, 0.5))
    ledger = tmp_path / "ledger.jsonl"
    options = BatchOptions()
    run_batch([str(spec)], options, jobs=1, ledger=Ledger(ledger))
    good = ledger.read_bytes()
    ledger.write_bytes(b'null\n[1]\n42\n"text"\n\xff\xfe not utf-8\n{"ledger": 1}\n' + good)
    reader = Ledger(ledger)
    entries = reader.read(options.fingerprint())
    assert len(entries) == 1 and reader.skipped == 5  # an entry of other options is no error
    result = CliRunner().invoke(app, ["batch", str(spec), "-f", "jsonl", "--resume", str(ledger)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["timing"]["resumed"] is True
    assert "5 unreadable line(s)" in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("value", ["inf", "1e10", "nan", "-1"])
def test_timeout_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    spec = tmp_path / "a.toml"
    spec.write_text(one_action_spec(1.0, 10.0, 0.5))
    result = CliRunner().invoke(app, ["batch", str(spec), "--timeout", value])
    assert result.exit_code == 2
    assert "timestamp" not in result.output
    with pytest.raises(ValueError):
        BatchOptions(timeout=float(value))


def test_a_large_timeout_within_range_solves(tmp_path: Path) -> None:
    spec = tmp_path / "a.toml"
    spec.write_text(one_action_spec(1.0, 10.0, 0.5))
    result = CliRunner().invoke(app, ["batch", str(spec), "--timeout", "1e6", "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "optimal"


def test_dask_executor_without_the_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "a.toml"
    spec.write_text(one_action_spec(1.0, 10.0, 0.5))
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "dask", None)
    result = CliRunner().invoke(app, ["batch", str(spec), "--executor", "dask"])
    assert result.exit_code == 2
    assert "pip install" in result.stderr and "internal error" not in result.stderr


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert file_sha256(fifo) is None  # never opened for a blocking read
    # Waiting on the FIFO would block forever: the subprocess timeout is the hang guard.
    process = subprocess.run(
        [sys.executable, "-m", "deter", "batch", str(fifo), "--timeout", "5", "-f", "jsonl"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.returncode == 2
    assert json.loads(process.stdout)["status"] == "bad_input"
    ledger = tmp_path / "ledger.jsonl"
    resumed = subprocess.run(
        [sys.executable, "-m", "deter", "batch", str(fifo), "--resume", str(ledger)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 2


def test_ctrl_c_in_check_exits_130(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    actions = "".join(f'\n[[actions]]\nname = "x{k}"\ngain = {-0.01 * k}\n' for k in range(150))
    for k in range(120):
        (folder / f"s{k:03d}.toml").write_text(two_action_spec(1.0) + actions)
    ledger = tmp_path / "ledger.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deter",
            "check",
            str(folder),
            "--max-cost",
            "100",
            "--jobs",
            "1",
            "--resume",
            str(ledger),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not ledger.exists() or len(ledger.read_text().splitlines()) < 2
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "deter check" in stderr and "--max-cost 100" in stderr and "--jobs 1" in stderr


@pytest.mark.parametrize("command", ["batch", "check"])
@pytest.mark.parametrize("flag", ["-o", "--resume", "-o-link"])
def test_output_or_ledger_equal_to_an_input_is_refused(
    tmp_path: Path, command: str, flag: str
) -> None:
    """-o or --resume naming one of the specs (or a link to one) would overwrite or append to
    it: refused with exit 2 before anything is solved, and the spec is left as it was."""
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("a", "b"):
        (specs / f"{name}.toml").write_text(one_action_spec(1.0, 10.0, 0.5))
    before = (specs / "a.toml").read_bytes()
    target = specs / "a.toml"
    if flag == "-o-link":
        link = tmp_path / "out.jsonl"
        link.symlink_to(target)
        args = ["-o", str(link)]
    else:
        args = [flag, str(target)]
    result = CliRunner().invoke(app, [command, str(specs), "-f", "jsonl", *args])
    assert result.exit_code == 2, result.output
    assert "is an input of this command" in result.stderr
    assert (specs / "a.toml").read_bytes() == before


@pytest.mark.parametrize("command", ["batch", "check"])
@pytest.mark.parametrize(
    "content",
    [b"[agent]\npenalty_cap = 1\n", b"\xff\xfe\x00bad", b'# notes: a line {"ledger": 2}\n'],
    ids=["a spec", "binary", "notes"],
)
def test_a_resume_file_that_is_not_a_ledger_is_refused(
    tmp_path: Path, command: str, content: bytes
) -> None:
    """--resume naming an existing file that is not a ledger (a typo: another spec, notes, a
    binary file) appended JSON lines to it; refused with exit 2, the file left as it was."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.toml").write_text(one_action_spec(1.0, 10.0, 0.5))
    other = tmp_path / "other.toml"
    other.write_bytes(content)
    result = CliRunner().invoke(app, [command, str(specs), "--resume", str(other)])
    assert result.exit_code == 2, result.output
    assert "not a ledger" in result.stderr
    assert other.read_bytes() == content


@pytest.mark.parametrize(
    "content", [b"", b"\n", b'{"led', b'{"ledger":2,"options":"x","outco'], ids=str
)
def test_an_empty_or_torn_ledger_is_still_resumed(tmp_path: Path, content: bytes) -> None:
    """An empty file, or a ledger whose first entry a kill cut short, is a ledger: resumed
    (so is one with junk lines around its entries: test_ledger_lines_that_are_not_entries)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.toml").write_text(one_action_spec(1.0, 10.0, 0.5))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(content)
    result = CliRunner().invoke(app, ["batch", str(specs), "--resume", str(ledger)])
    assert result.exit_code == 0, result.output
    assert b'"ledger"' in ledger.read_bytes()
