"""Import cvxpy (and so its solvers) with Ctrl-C held until the import ends.

A SIGINT that lands while a solver's compiled module initialises is turned into
``ImportError('initialization failed')`` by the extension, which cvxpy reports and ignores:
the user's Ctrl-C is lost and the command runs on (an experiment interrupted in its first
seconds under load ran to its end). Held here, it is raised as soon as the import is done.

The commands that solve in their own process call this first (``cli/app.py``); ``deter
batch`` and ``deter check`` call it only where they solve in their own process
(``solver/batch/run.py``): with worker processes the batch's process never imports cvxpy,
so its start-up does not wait for an import its workers' server makes anyway.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading


def import_solvers() -> None:
    """Import cvxpy with SIGINT held; raise KeyboardInterrupt afterwards if one came.

    Only the main thread can set a signal handler; elsewhere, or when cvxpy is already
    imported, this does nothing."""
    if "cvxpy" in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with Ctrl-C ignored
        importlib.import_module("cvxpy")
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        importlib.import_module("cvxpy")
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
