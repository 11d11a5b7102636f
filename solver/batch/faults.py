"""Fault injection for batch workers: how the tests prove that one bad file stays one error.

A :class:`Faults` object travels with the batch options to every worker (it is plain,
picklable data) and is consulted before each file is solved. It is never set by the
command line; it exists so that a worker crash (``os._exit``, as a segfault in a native
solver would look), a hang or an exception raised inside deter (a bug of its own) can be
produced on purpose and its isolation tested.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Faults:
    crash_on: frozenset[str] = field(default_factory=frozenset)  # file names whose worker dies
    hang_on: frozenset[str] = field(default_factory=frozenset)  # file names that sleep
    hang_seconds: float = 60.0
    # file names whose worker hangs where no Python signal handler can run (SIGALRM blocked,
    # as a solver stuck in native code looks to the timeout); only a hard deadline ends it
    stuck_on: frozenset[str] = field(default_factory=frozenset)
    # file names on which deter raises an exception after solving, where the answer is made
    # (as a bug in deter's own code would): only this file's outcome may show it
    raise_on: frozenset[str] = field(default_factory=frozenset)
    # file names whose loading runs out of memory (as under ``ulimit -v``): transient, so the
    # file must not get a final verdict (issue 25)
    memory_on: frozenset[str] = field(default_factory=frozenset)

    @property
    def need_a_process(self) -> bool:
        """True when a fault would end or stall the process it runs in (a crash, a hang),
        which must then be a worker's, never the batch's own."""
        return bool(self.crash_on or self.hang_on or self.stuck_on)

    def before_file(self, path: str) -> None:
        name = Path(path).name
        if name in self.crash_on:
            os._exit(70)  # no cleanup, no exception: as a native crash looks to the parent
        if name in self.hang_on:
            # in short steps: a slow stretch of Python code, which a timeout can interrupt
            # in any thread (a Dask worker's too), not only through SIGALRM in the main one
            deadline = time.monotonic() + self.hang_seconds
            while time.monotonic() < deadline:
                time.sleep(0.01)
        if name in self.memory_on:
            raise MemoryError
        if name in self.stuck_on:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(self.hang_seconds)

    def after_solve(self, path: str) -> None:
        if Path(path).name in self.raise_on:
            raise InjectedBug(f"injected for {Path(path).name}")


class InjectedBug(RuntimeError):
    """The exception :attr:`Faults.raise_on` raises: not one of deter's own errors."""
