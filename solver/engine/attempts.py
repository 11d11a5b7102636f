"""The attempt plan and the one loop every formulation is solved through.

The plan: each requested solver as configured by default (HiGHS, then Clarabel), then each
again on the rescaled, row-equilibrated program (``formulation/scaling.py``) with tightened
tolerances, then, for a linear program, HiGHS on the program as compiled with iterative
refinement (``refine.py``: correction LPs on exact residuals, for rows at scales no choice
of units reconciles); programs with cones skip solvers that cannot take them and start
tight, and mixed-integer programs go to HiGHS only, with an exact gap. :func:`run` tries the
attempts in turn: an answer is accepted only when the formulation's own check of it (verification
against the model, then its certificate) passes; otherwise the next attempt runs, and when
none is left the outcome is ``solver_error`` with what each attempt did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import cvxpy as cp

from ..results.serialise import no_addresses
from ..results.status import Status
from .refine import refine_solved

#: Tightened options per solver for the rescaled retry (names as the solvers take them).
TIGHT_OPTIONS: Mapping[str, Mapping[str, Any]] = {
    "HIGHS": {
        "primal_feasibility_tolerance": 1e-10,
        "dual_feasibility_tolerance": 1e-10,
    },
    "CLARABEL": {
        "tol_gap_abs": 1e-12,
        "tol_gap_rel": 1e-12,
        "tol_feas": 1e-12,
        "tol_ktratio": 1e-10,
        "max_iter": 400,
    },
}
#: Solvers that handle second-order and exponential cones (HiGHS solves linear programs only).
CONIC_SOLVERS = ("CLARABEL",)
#: Options for a first conic attempt: Clarabel's defaults (1e-8) leave cone programs about
#: 1e-6 above their optimum.
CONIC_OPTIONS: Mapping[str, Any] = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
#: The solver iterative refinement uses when it is requested (a simplex: vertices and the
#: multipliers of a basis, which the correction LPs refine).
REFINING_SOLVER = "HIGHS"
#: Solvers that accept boolean variables.
INTEGER_SOLVERS = ("HIGHS",)
#: HiGHS stops a mixed-integer search within 1e-4 of its bound and accepts rows violated by
#: 1e-6 by default; losses and incentive rows can be that small (a gain of 1e-5 left
#: undeterred or not), so the search must close the gap and respect rows tightly.
EXACT_MIP: Mapping[str, Any] = {
    "mip_rel_gap": 1e-12,
    "mip_abs_gap": 1e-14,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
}

_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


@dataclass(frozen=True)
class Attempt:
    solver: str
    scaled: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    skip: str = ""  # why this solver cannot take the program (the attempt only says so)
    refined: bool = False  # iterative refinement of the solver's answer (refine.py)

    @property
    def label(self) -> str:
        if self.refined:
            return f"{self.solver} (refined)"
        return f"{self.solver} (rescaled, tight)" if self.scaled else self.solver


def attempt_plan(
    solvers: Sequence[str], linear: bool = True, *, integer: bool = False, rescale: bool = True
) -> tuple[Attempt, ...]:
    """Every solver as configured, then (``rescale``) every solver on the rescaled program,
    tightened, and a linear program's iterative refinement (HiGHS when requested, else the
    first solver). Cone programs start tight with the solvers that take cones;
    mixed-integer programs use the solvers that take binaries, with an exact gap."""
    if integer:
        return tuple(
            Attempt(s, False, EXACT_MIP)
            if s in INTEGER_SOLVERS
            else Attempt(s, skip="cannot solve mixed-integer programs")
            for s in solvers
        )
    if not linear:
        conic = [s for s in solvers if s in CONIC_SOLVERS] or list(CONIC_SOLVERS)
        first = tuple(Attempt(s, False, CONIC_OPTIONS) for s in conic)
        if not rescale:
            return first
        return first + tuple(Attempt(s, True, TIGHT_OPTIONS.get(s, {})) for s in conic)
    plain = tuple(Attempt(s) for s in solvers)
    if not rescale:
        return plain
    refine = REFINING_SOLVER if REFINING_SOLVER in solvers else solvers[0]
    return (
        plain
        + tuple(Attempt(s, True, TIGHT_OPTIONS.get(s, {})) for s in solvers)
        + (Attempt(refine, refined=True),)
    )


class Record(Protocol):
    """What a solver call reports (``formulation/program.py:SolveRecord``)."""

    @property
    def status(self) -> str: ...


class Solvable(Protocol):
    """What the loop needs of a program: one solver call, and the cvxpy problem solved
    (which a refined attempt refines in place)."""

    @property
    def problem(self) -> cp.Problem: ...

    def solve(self, solver: str, **options: Any) -> Any: ...


P = TypeVar("P", bound=Solvable)
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict(Generic[T]):
    """A formulation's judgement of one solved attempt: the typed answer, or why not."""

    answer: T | None
    proof: str = ""  # e.g. "verified and certified", when accepted
    failure: str = ""  # why not, when rejected

    @classmethod
    def accept(cls, answer: T, proof: str) -> Verdict[T]:
        return cls(answer, proof=proof)

    @classmethod
    def reject(cls, failure: str) -> Verdict[T]:
        return cls(None, failure=failure)


@dataclass(frozen=True)
class Run(Generic[T]):
    """What the attempts came to: ``optimal`` with an answer, ``infeasible`` or
    ``solver_error``, and one line per attempt."""

    status: Status
    answer: T | None
    solver: str | None
    attempts: tuple[str, ...]


def run(
    plan: Sequence[Attempt],
    program_for: Callable[[Attempt], P],
    judge: Callable[[P, Attempt, Any], Verdict[T]],
    *,
    infeasible: Callable[[Attempt], bool] = lambda attempt: True,
) -> Run[T]:
    """Try each attempt until one answer is verified; see the module docstring.

    ``program_for`` gives the program an attempt solves (the plain one or the rescaled
    one), ``judge`` reads, verifies and certifies a solved program (given the solver's
    record: status and raw solution), and ``infeasible`` says
    whether a solver's claim of infeasibility stands: only when it is proven in the
    model's units (for the core program, a Farkas certificate checked exactly:
    ``infeasibility.py``); otherwise the next attempt runs, and a spec no attempt solves
    ends as ``solver_error``, never as an unproven ``infeasible``.
    """
    lines: list[str] = []
    for attempt in plan:
        label = attempt.label
        if attempt.skip:
            lines.append(f"{label}: skipped ({attempt.skip})")
            continue
        try:
            program = program_for(attempt)
            record = program.solve(attempt.solver, **attempt.options)
            if attempt.refined and str(record.status) in _SOLVED:
                record = refine_solved(program.problem, attempt.solver).record
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            # a solver exception may quote an object's address: never in a message, which
            # must be the same from run to run
            lines.append(f"{label}: failed ({no_addresses(str(exc))})")
            continue
        status = str(record.status)
        if status in _INFEASIBLE:
            if infeasible(attempt):
                lines.append(f"{label}: infeasible")
                return Run(Status.infeasible, None, label, tuple(lines))
            lines.append(
                f"{label}: reported infeasible, but no certificate of infeasibility holds "
                "in the model's units"
            )
            continue
        if status not in _SOLVED:
            lines.append(f"{label}: status {status}")
            continue
        verdict = judge(program, attempt, record)
        if verdict.answer is not None:
            lines.append(f"{label}: {status}, {verdict.proof}")
            return Run(Status.optimal, verdict.answer, label, tuple(lines))
        lines.append(f"{label}: {status}, but {verdict.failure}")
    return Run(Status.solver_error, None, None, tuple(lines))
