"""Dask faults (issue 25): relative paths resolved by the worker, a scheduler lost mid-batch.

A real scheduler and worker run as processes on 127.0.0.1 (``tests/support/dask_cluster.py``),
in a folder of their own, so that a relative path means another file there and the scheduler
can be killed as an operator's would die.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from deter.cli.app import app
from deter.cli.exit_codes import ExitCode
from deter.solver.batch import dask_executor
from deter.solver.batch import run as batch_run
from deter.solver.batch.faults import Faults
from deter.solver.batch.worker import BatchOptions, solve_chunk
from deter.solver.results.status import Status
from typer.testing import CliRunner

from tests.support.batch_helpers import one_action_spec
from tests.support.dask_cluster import dask_cluster

pytestmark = pytest.mark.timeout(180)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dask_worker_reads_the_clients_file_not_its_own_relative_namesake(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, elsewhere = tmp_path / "client", tmp_path / "worker"
    (client / "b").mkdir(parents=True)
    (elsewhere / "b").mkdir(parents=True)
    # the client's spec costs 1 * 1 / (0.5 * 10) = 0.2 (Becker); the worker's namesake 0.1
    (client / "b" / "s.toml").write_text(one_action_spec(gain=1.0, cap=10.0, detection=0.5))
    (elsewhere / "b" / "s.toml").write_text(one_action_spec(gain=1.0, cap=10.0, detection=1.0))
    with dask_cluster(elsewhere) as cluster:
        monkeypatch.chdir(client)
        result = runner.invoke(
            app, ["batch", "b", "-f", "jsonl", "--executor", "dask", "--address", cluster.address]
        )
    assert result.exit_code == 0, result.stderr
    (doc,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert doc["file"] == "b/s.toml"
    assert doc["total_cost"] == pytest.approx(0.2, rel=1e-6)
    assert doc["sha256"] == _sha(client / "b" / "s.toml")


def test_content_other_than_the_clients_is_a_per_file_error_not_an_answer(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(one_action_spec(gain=1.0, cap=10.0, detection=0.5))
    other = tmp_path / "other.toml"
    other.write_text(one_action_spec(gain=1.0, cap=10.0, detection=1.0))
    (outcome,) = solve_chunk(["s.toml"], BatchOptions(), [(str(spec), _sha(other))])
    assert outcome.status == Status.solver_error  # not final: a resume solves it again
    assert outcome.total_cost is None and outcome.sha256 is None
    assert "other content" in (outcome.error or "")
    (same,) = solve_chunk(["s.toml"], BatchOptions(), [(str(spec), _sha(spec))])
    assert same.status == Status.optimal and same.sha256 == _sha(spec)
    assert same.file == "s.toml"


def _write_specs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for k in range(count):
        path = folder / f"s{k:03d}.toml"
        path.write_text(one_action_spec(gain=1.0 + k / 100, cap=10.0, detection=0.5))
        paths.append(path)
    return paths


@dataclass
class _Stopped:
    result: Any  # the CliRunner result
    specs: list[Path]
    done: int  # files in the stacks before the hanging one
    ledger: Path
    output: Path
    waited: float  # seconds from the kill to the end of the batch
    scheduler_up: bool  # when the batch ended
    worker_up: bool


def _kill_mid_batch(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill: str
) -> _Stopped:
    """A 70-file batch on a real cluster whose last file hangs: once every other stack is
    done, ``cluster.<kill>()`` runs; the batch's end is timed from it."""
    specs = _write_specs(tmp_path / "specs", 70)
    done = 70 - len(batch_run.stacks_of([str(p) for p in specs])[-1])
    assert done > 0
    ledger, output = tmp_path / "ledger.jsonl", tmp_path / "out.jsonl"
    real = batch_run.run_batch

    def with_a_hang(files: Any, options: BatchOptions, **kwargs: Any) -> Any:
        faults = Faults(hang_on=frozenset({specs[-1].name}), hang_seconds=120)
        return real(files, replace(options, faults=faults), **kwargs)

    monkeypatch.setattr(batch_run, "run_batch", with_a_hang)
    killed: list[float] = []
    with dask_cluster(tmp_path / "cluster") as cluster:

        def kill_after_the_first_stack() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if ledger.exists() and ledger.read_text().count("\n") >= done:
                    time.sleep(0.5)  # stack 1's other files are done too; its last hangs
                    getattr(cluster, kill)()
                    killed.append(time.monotonic())
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_after_the_first_stack, daemon=True)
        killer.start()
        result = runner.invoke(
            app,
            [
                "batch",
                str(tmp_path / "specs"),
                "-f",
                "jsonl",
                "-o",
                str(output),
                "--resume",
                str(ledger),
                "--executor",
                "dask",
                "--address",
                cluster.address,
            ],
        )
        ended = time.monotonic()
        killer.join(5)
        assert killed, f"{kill} never ran"
        up = cluster.scheduler.poll() is None, cluster.worker.poll() is None
        stopped = _Stopped(result, specs, done, ledger, output, ended - killed[0], *up)
    monkeypatch.setattr(batch_run, "run_batch", real)
    return stopped


def _kept_and_resumable(stopped: _Stopped) -> None:
    """Exit 3, not a bug; the finished answers in -o; the resume command printed."""
    result = stopped.result
    assert result.exit_code == ExitCode.SOLVER_FAILED, (result.exit_code, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "--resume" in result.stderr and str(stopped.ledger) in result.stderr
    kept = [json.loads(line) for line in stopped.output.read_text().splitlines()]
    assert len(kept) == stopped.done and all(d["status"] == "optimal" for d in kept)
    assert {d["file"] for d in kept} == {str(p) for p in stopped.specs[: stopped.done]}


def test_losing_the_scheduler_keeps_the_finished_files_and_says_how_to_resume(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stack but the last finishes; the last file of the last stack hangs; the
    scheduler is then killed. The batch must stop at once with exit 3 (the rest has no
    answer), keep the finished answers in -o and the ledger, print the resume command, and
    not be reported as a bug."""
    stopped = _kill_mid_batch(runner, tmp_path, monkeypatch, "kill_scheduler")
    assert not stopped.scheduler_up, "the scheduler was never killed"
    _kept_and_resumable(stopped)
    assert "lost the Dask scheduler" in stopped.result.stderr
    assert stopped.waited < 20  # a bounded wait (once: over 140 s)
    # The resume command finishes the batch without solving the kept files again.
    again = runner.invoke(
        app, ["batch", str(tmp_path / "specs"), "-f", "jsonl", "--resume", str(stopped.ledger)]
    )
    assert again.exit_code == 0, again.stderr
    docs = [json.loads(line) for line in again.stdout.splitlines()]
    assert len(docs) == 70
    assert sum(d["timing"]["resumed"] for d in docs) >= stopped.done


def test_a_scheduler_left_with_no_worker_is_a_lost_cluster_not_a_wait_forever(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the one worker is killed and the scheduler stays up (issue 25: the
    batch waited forever). It must give the cluster up after NO_WORKER_TIMEOUT seconds as
    it does a lost scheduler."""
    monkeypatch.setattr(dask_executor, "NO_WORKER_TIMEOUT", 3.0)
    stopped = _kill_mid_batch(runner, tmp_path, monkeypatch, "kill_worker")
    assert not stopped.worker_up, "the worker was never killed"
    assert stopped.scheduler_up, "the scheduler must have stayed up"
    _kept_and_resumable(stopped)
    assert "has had no worker for 3 s" in stopped.result.stderr
    assert 3.0 <= stopped.waited < 20  # waited the timeout, and not much longer
