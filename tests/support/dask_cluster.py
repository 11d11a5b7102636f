"""A real Dask scheduler and worker on 127.0.0.1, as separate processes a test can kill.

``LocalCluster`` runs its scheduler inside the test's own process, where it cannot be
killed the way an operator's scheduler dies; these are ``dask scheduler`` and ``dask worker``
processes, started in a folder the test chooses (a worker resolves relative paths there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

#: Seconds a scheduler or worker may take to start (a worker imports numpy and friends).
START_TIMEOUT = 60.0


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def kill_scheduler(self) -> None:
        self.scheduler.kill()
        self.scheduler.wait(10)

    def kill_worker(self) -> None:
        """Kill the one worker (started without a nanny: nothing restarts it)."""
        self.worker.kill()
        self.worker.wait(10)


def _wait_for(check: object, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():  # type: ignore[operator]
        if process.poll() is not None:
            raise RuntimeError(f"the {what} exited with {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {what} did not start in {START_TIMEOUT:g} s")
        time.sleep(0.1)


@contextlib.contextmanager
def dask_cluster(folder: Path, threads: int = 2) -> Iterator[Cluster]:
    """A scheduler and one worker of ``threads`` threads, both in ``folder`` (their working
    folder), listening on 127.0.0.1 only; both are killed when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": folder, "env": env}
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        ],
        **quiet,  # type: ignore[arg-type]
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(scheduler_file.exists, "Dask scheduler", scheduler)
        time.sleep(0.2)  # the file is written whole, but give the writer its close
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:"), address
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                str(threads),
                "--nworkers",
                "1",
                "--no-dashboard",
                "--no-nanny",
            ],
            **quiet,  # type: ignore[arg-type]
        )
        from distributed import Client

        with Client(address, timeout="20s") as client:
            client.wait_for_workers(1, timeout=START_TIMEOUT)
        yield Cluster(address, scheduler, worker)
    finally:
        for process in (worker, scheduler):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)


@contextlib.contextmanager
def local_scheduler(workers: int = 2) -> Iterator[str]:
    """The address of a ``LocalCluster`` of ``workers`` processes, one thread each, whose
    scheduler gives up on a task after the first worker death (the default is after four,
    each a worker restart that re-imports the solver: slow for a unit test)."""
    import dask
    import distributed

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


T = TypeVar("T")
R = TypeVar("R")


def reversed_map(function: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
    """Runs the tasks last first (as a cluster may finish them), answers in task order."""
    return list(reversed([function(t) for t in reversed(tasks)]))
