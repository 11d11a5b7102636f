"""Exit codes: the one place where outcomes and errors become process exit codes.

0  solved, and every action is deterred
1  the spec is valid but cannot be met (infeasible, over budget, a failed requirement)
2  bad input or usage (unreadable file, TOML syntax, unknown key, bad value, bad option)
3  no solver produced a verified answer (or deter itself failed)
"""

from __future__ import annotations

from enum import IntEnum

from ..solver.results.errors import DeterError, InfeasibleError, SolverError, SpecError


class ExitCode(IntEnum):
    OK = 0
    NOT_MET = 1
    BAD_INPUT = 2
    SOLVER_FAILED = 3


_BY_STATUS = {
    "optimal": ExitCode.OK,
    "infeasible": ExitCode.NOT_MET,
    "solver_error": ExitCode.SOLVER_FAILED,
    "bad_input": ExitCode.BAD_INPUT,
}


def for_status(status: str) -> ExitCode:
    """The exit code of a result status (``optimal``, ``infeasible``, ...)."""
    return _BY_STATUS.get(status, ExitCode.SOLVER_FAILED)


def for_error(error: BaseException) -> ExitCode:
    if isinstance(error, SpecError):
        return ExitCode.BAD_INPUT
    if isinstance(error, InfeasibleError):
        return ExitCode.NOT_MET
    if isinstance(error, SolverError | DeterError):
        return ExitCode.SOLVER_FAILED
    return ExitCode.SOLVER_FAILED


def worst(codes: list[int] | tuple[int, ...]) -> int:
    """The exit code of many outcomes: the most serious one."""
    return max(codes, default=ExitCode.OK)
