"""Ctrl-C that is never lost.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be, and
some places swallow it: a C extension whose initialisation it interrupts reports
``ImportError`` (which optional imports catch and ignore), a finalizer prints "Exception
ignored" and goes on. A long command then runs to its end after the user's Ctrl-C (an
``experiment`` interrupted in its first seconds under load did:
``tests/batch/test_stop_signals.py``). So the command line's handler (:func:`install`,
``cli/entry.py``) also latches every SIGINT here, and the long loops (simulation and
training episodes, tasks of a serial map) call :func:`check`, which raises it again.

Without :func:`install` (the library in a user's process) nothing is latched and
:func:`check` costs one list lookup.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_received = [False]


def _latch(signum: int, frame: FrameType | None) -> None:
    _received[0] = True
    raise KeyboardInterrupt


def install() -> None:
    """Latch SIGINT from now on (main thread, default handler only: a handler someone else
    set, or SIGINT ignored by the parent, is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _latch)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT was latched (it may have been swallowed)."""
    if _received[0]:
        raise KeyboardInterrupt
