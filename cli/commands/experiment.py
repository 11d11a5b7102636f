"""``deter experiment``: train learning agents under oversight policies (docs/experiments.md)."""

from __future__ import annotations

from ..common import fail
from ..exit_codes import ExitCode


def experiment() -> None:
    """Train learning agents under several oversight policies and report (in progress)."""
    fail(ExitCode.BAD_INPUT, "error: deter experiment is not finished yet")
