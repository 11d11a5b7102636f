"""Exit codes: the one place where outcomes and errors become process exit codes.

Every command uses this table (``docs/spec-format.md`` section 7 and the README repeat it):

0  success: solved and verified (every action deterred, or, under ``objective = "min_loss"``,
   left undeterred on purpose); for ``validate``, ``schema``, ``init``: done
1  the spec is valid but cannot be met (infeasible, over budget, a failed requirement)
2  bad input or usage (unreadable file, TOML syntax, unknown key, bad value, bad option,
   a path that names no file)
3  no solver produced a verified answer (or the run was interrupted before one)
4  the spec is valid but uses a feature this command does not support (e.g. ``simulate`` on
   a spec with ROC monitors); another command may handle it
5  deter itself failed (a bug: please report it; ``--debug`` shows the traceback)
130  stopped by Ctrl-C (SIGINT; 128 + 2, as the shell reports it): whatever finished is kept
141  standard output was closed by its reader (``deter batch DIR | head -1``; 128 + SIGPIPE,
   as the shell reports a pipeline's stopped writer): deter stops quietly

One result (``solve``, ``explain``, ...) maps by its status; a batch file by its status
(``deter batch``) or by its requirements (``deter check``); a run of many by the most
serious of its codes, and an interrupted run :attr:`ExitCode.INTERRUPTED` (130) whatever
its files' codes were: the summary, the JSON and the process all say 130.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING

from ..solver.results.errors import (
    DeterError,
    InfeasibleError,
    SolverError,
    SpecError,
    UnsupportedError,
)
from ..solver.results.status import Status

if TYPE_CHECKING:  # the batch engine loads only when a batch runs
    from ..solver.batch.outcome import FileOutcome
    from ..solver.batch.run import BatchRun


class ExitCode(IntEnum):
    OK = 0
    NOT_MET = 1
    BAD_INPUT = 2
    SOLVER_FAILED = 3
    UNSUPPORTED = 4
    INTERNAL_ERROR = 5
    #: Ctrl-C (SIGINT): 128 + 2, the shell's convention.
    INTERRUPTED = 130
    #: Standard output closed by its reader (a pipe to ``head``): 128 + SIGPIPE (13).
    PIPE_CLOSED = 141


#: What each code means, in one line (``deter --help``, the docs and tests read this).
MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "solved and verified (or done)",
    ExitCode.NOT_MET: "valid, but cannot be met (infeasible, over budget, a failed requirement)",
    ExitCode.BAD_INPUT: "bad input or usage",
    ExitCode.SOLVER_FAILED: "no verified answer",
    ExitCode.UNSUPPORTED: "valid, but a feature this command does not support",
    ExitCode.INTERNAL_ERROR: "deter's own error (a bug; rerun with --debug)",
    ExitCode.INTERRUPTED: "stopped by Ctrl-C",
    ExitCode.PIPE_CLOSED: "the output's reader closed it (a pipe to head)",
}

#: The codes an outcome can have (``deter --help`` lists these; any command may also end
#: with :attr:`ExitCode.INTERRUPTED` or :attr:`ExitCode.PIPE_CLOSED`).
OUTCOME_CODES = tuple(c for c in ExitCode if c < ExitCode.INTERRUPTED)
#: Codes any command can end with, whatever it does: a bug, Ctrl-C, a closed pipe.
ANY_COMMAND = (ExitCode.INTERNAL_ERROR, ExitCode.INTERRUPTED, ExitCode.PIPE_CLOSED)


_SOLVES = (ExitCode.OK, ExitCode.NOT_MET, ExitCode.BAD_INPUT, ExitCode.SOLVER_FAILED)

#: The codes each command can exit with (besides :data:`ANY_COMMAND`: 5, a bug, 130 for
#: Ctrl-C and 141 for a closed pipe). ``deter CMD --help`` lists them; tests/cli/test_exit_codes.py
#: runs each command into each of them.
COMMAND_CODES: dict[str, tuple[ExitCode, ...]] = {
    "init": (ExitCode.OK, ExitCode.BAD_INPUT),
    "solve": _SOLVES,
    "validate": (ExitCode.OK, ExitCode.BAD_INPUT),
    "schema": (ExitCode.OK, ExitCode.BAD_INPUT),
    "batch": _SOLVES,
    "check": _SOLVES,
    "simulate": (*_SOLVES, ExitCode.UNSUPPORTED),
    "sweep": _SOLVES,
    "frontier": _SOLVES,
    "compare": _SOLVES,
    "explain": _SOLVES,
    "report": _SOLVES,
    "export": _SOLVES,
    "experiment": (ExitCode.OK, ExitCode.BAD_INPUT, ExitCode.SOLVER_FAILED),
    "fit": (ExitCode.OK, ExitCode.BAD_INPUT),
}


def codes_help(*codes: ExitCode) -> str:
    """The exit codes line of a command's help (every code when none are given)."""
    chosen = codes or OUTCOME_CODES
    return "Exit codes: " + "; ".join(f"{int(c)} {MEANING[c]}" for c in chosen) + "."


_BY_STATUS = {
    Status.optimal: ExitCode.OK,
    Status.infeasible: ExitCode.NOT_MET,
    Status.solver_error: ExitCode.SOLVER_FAILED,
    Status.bad_input: ExitCode.BAD_INPUT,
    # a sweep point whose combination the spec rules refuse: that setting cannot be met
    Status.invalid: ExitCode.NOT_MET,
}

#: How one batch file becomes an exit code (:func:`for_file` or :func:`for_checked_file`).
OutcomeCode = Callable[["FileOutcome"], int]


def for_status(status: Status | str) -> ExitCode:
    """The exit code of a status (``optimal``, ``infeasible``, ...); unknown: no answer."""
    try:
        return _BY_STATUS[Status(status)]
    except ValueError:
        return ExitCode.SOLVER_FAILED


def for_error(error: BaseException) -> ExitCode:
    """The exit code of an exception that ended a command: a bug of deter's own (not a
    :class:`DeterError`) is :attr:`ExitCode.INTERNAL_ERROR`."""
    if isinstance(error, UnsupportedError):
        return ExitCode.UNSUPPORTED
    if isinstance(error, SpecError):
        return ExitCode.BAD_INPUT
    if isinstance(error, InfeasibleError):
        return ExitCode.NOT_MET
    if isinstance(error, SolverError | DeterError):
        return ExitCode.SOLVER_FAILED
    return ExitCode.INTERNAL_ERROR


def for_points(statuses: Iterable[Status | str]) -> ExitCode:
    """The exit code of a series of solves (``sweep``'s points, ``frontier``'s factors): the
    worst point's, so both commands exit 1 when any point cannot be met."""
    return ExitCode(worst(for_status(s) for s in statuses))


def worst(codes: Iterable[int]) -> int:
    """The exit code of many outcomes: the most serious one."""
    return max(codes, default=ExitCode.OK)


def for_file(outcome: FileOutcome) -> ExitCode:
    """A file's exit code under ``deter batch``: as ``deter solve`` would exit on it (5 when
    deter raised an exception of its own on the file)."""
    if outcome.internal:
        return ExitCode.INTERNAL_ERROR
    return for_status(outcome.status)


def for_checked_file(outcome: FileOutcome) -> ExitCode:
    """A file's exit code under ``deter check``: 1 when a requirement fails.

    Bad input and a missing verified answer count as under ``batch``; an infeasible spec
    fails only through ``deter_all`` (a requirement it may switch off).
    """
    if outcome.internal or outcome.status in (Status.bad_input, Status.solver_error):
        return for_file(outcome)
    return ExitCode.NOT_MET if outcome.failed_requirements else ExitCode.OK


def for_outcomes(check: bool) -> OutcomeCode:
    """The per-file exit code of ``deter check`` (``check``) or ``deter batch``."""
    return for_checked_file if check else for_file


def for_run(run: BatchRun, code: OutcomeCode) -> ExitCode:
    """A batch run's exit code: its worst file's, or :attr:`ExitCode.INTERRUPTED` (130) when
    it was interrupted (as the process exits: one number in the summary, JSON and shell),
    or at least 3 when its environment failed (``run.lost``: the rest has no answer)."""
    codes = (code(o) for o in run.outcomes)
    return for_codes(codes, interrupted=run.interrupted, lost=run.lost is not None)


def for_codes(codes: Iterable[int], *, interrupted: bool, lost: bool = False) -> ExitCode:
    """The exit code of a run from its files' codes (a streamed run keeps only these)."""
    if lost:  # the cluster went away: no verified answer for what did not finish
        return ExitCode(worst([*codes, ExitCode.SOLVER_FAILED]))
    return ExitCode.INTERRUPTED if interrupted else ExitCode(worst(codes))


def forget_unhandled_interrupt() -> None:
    """Keep exit code 130 after a KeyboardInterrupt that was handled.

    CPython notes a KeyboardInterrupt that ends code run through ``PyRun_String`` (as
    pybind11 extensions such as HiGHS and torch run some of their setup) and, under
    ``python -m``, turns the exit code into death by SIGINT once the program has ended, even
    though deter caught the interrupt and asked for 130. Running an empty string through
    the same call clears that note. Only CPython has it.
    """
    if sys.implementation.name != "cpython":
        return
    import ctypes

    ctypes.pythonapi.PyRun_SimpleString(b"")
