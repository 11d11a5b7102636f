"""Imported by the workers' server only (``processes.PRELOAD``): what its forked children
say when they cannot start.

A worker that forks in the moment the batch stops (Ctrl-C as the pool starts its workers)
finds its pool's semaphores already released by the batch: unpickling them raises
``FileNotFoundError`` inside ``multiprocessing/synchronize.py`` before any of deter's code
runs, and the server's child prints that traceback to the terminal, after the batch has
said ``interrupted`` and exited 130 (``tests/cli/test_batch_start.py`` saw it under load).
Such a worker has nothing to do and nobody to tell; every other failure is printed as before.
"""

from __future__ import annotations

import sys
from types import TracebackType


def _pool_gone(kind: type[BaseException], tb: TracebackType | None) -> bool:
    """An OSError raised while a worker rebuilds its pool's semaphores."""
    if not issubclass(kind, OSError):
        return False
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "__setstate__" and code.co_filename.endswith("synchronize.py"):
            return True
        tb = tb.tb_next
    return False


def quiet_when_the_pool_is_gone(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if _pool_gone(kind, tb):
        return
    sys.__excepthook__(kind, value, tb)


sys.excepthook = quiet_when_the_pool_is_gone
