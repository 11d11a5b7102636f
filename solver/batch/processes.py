"""The server local workers fork from, and starting it early.

A local batch's workers fork from multiprocessing's forkserver, which imports the solver
(cvxpy: about a second, most of a batch's start-up) once, before the first worker forks.
That import need not wait for the batch's own process to finish loading the command line
and finding the files: :func:`start_server` starts the server at once (``cli/entry.py``
calls it first thing for a batch that will use workers), so both loads run side by side.
Light on imports (no solver, no numpy), so calling it costs the caller nothing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Iterator
from multiprocessing.context import BaseContext

#: Batches of at most this many files (without a timeout or a fault that ends a process)
#: are solved in this process: starting a pool of workers that each load cvxpy costs more
#: than they save.
INLINE_LIMIT = 128

#: What the server imports before any worker forks: its quiet exception hook
#: (``server_hooks``), the solver and the worker's own code, so that no worker imports them
#: again.
PRELOAD = [
    "deter.solver.batch.server_hooks",
    "deter.solver.engine.solve",
    "deter.solver.batch.worker",
]


def context() -> BaseContext:
    """The forkserver context every local pool is made from (``run._pool``).

    forkserver: workers fork from a server that has already imported the solver (cvxpy
    loads once, not once per worker), and never inherit the parent's threads (the progress
    bar) the way a plain fork would."""
    made = multiprocessing.get_context("forkserver")
    made.set_forkserver_preload(PRELOAD)
    start_resource_tracker_deaf_to_hangup()
    return made


def start_server() -> None:
    """Start the forkserver (and its imports) now, without waiting for it; a later pool
    uses this server. Harmless if it is already running.

    The server starts with SIGINT blocked (a signal mask survives its exec): Ctrl-C reaches
    the terminal's whole process group, and in the second the server spends importing
    (before multiprocessing makes it ignore SIGINT) it would end it with a traceback, while
    the batch stops cleanly with 130. Its workers ignore SIGINT anyway (``worker_start``).
    A Ctrl-C in the moment this process spawns the server waits, and is delivered after."""
    from multiprocessing import forkserver

    context()
    with _blocked(signal.SIGINT):
        forkserver.ensure_running()


def start_resource_tracker_deaf_to_hangup() -> None:
    """Start multiprocessing's resource tracker with SIGHUP blocked (a mask survives its
    exec): a terminal's hangup reaches the whole process group, and a tracker it killed
    would print a traceback while the batch stops cleanly (``run.stop_signals``)."""
    from multiprocessing import resource_tracker

    with _blocked(getattr(signal, "SIGHUP", None)):
        resource_tracker.ensure_running()


@contextlib.contextmanager
def _blocked(number: int | None) -> Iterator[None]:
    """Signal ``number`` blocked in this thread while the block runs (where the platform
    has signal masks), so a process spawned inside starts with it blocked."""
    if number is None or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {number})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
