"""model/interrupts.py: a Ctrl-C swallowed on its way is raised again by the next check.

The full suite under load once saw ``deter experiment`` run on after SIGINT (its
KeyboardInterrupt lost where something caught it: a C extension's initialisation reports
ImportError, a finalizer ignores it); these tests swallow one on purpose."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from deter.solver.model import interrupts
from deter.solver.simulation.simulate import serial_map


@pytest.fixture
def latched() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupts.install()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts._received[0] = False


def _swallowed_interrupt() -> None:
    """A SIGINT whose KeyboardInterrupt some code catches and ignores."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)  # the handler runs here
    except KeyboardInterrupt:
        pass


def test_a_swallowed_interrupt_is_raised_by_the_next_check(latched: None) -> None:
    interrupts.check()  # nothing latched: nothing raised
    _swallowed_interrupt()
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_a_serial_map_stops_at_the_task_after_a_swallowed_interrupt(latched: None) -> None:
    ran: list[int] = []

    def task(k: int) -> int:
        ran.append(k)
        if k == 1:
            _swallowed_interrupt()
        return k

    with pytest.raises(KeyboardInterrupt):
        serial_map(task, [0, 1, 2, 3])
    assert ran == [0, 1]


def test_install_leaves_a_handler_someone_else_set_alone() -> None:
    previous = signal.getsignal(signal.SIGINT)

    def theirs(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, theirs)
    try:
        interrupts.install()
        assert signal.getsignal(signal.SIGINT) is theirs
    finally:
        signal.signal(signal.SIGINT, previous)
