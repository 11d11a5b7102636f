"""Which solver runs next when an answer fails deter's checks, and the checks' combined verdict.

The plan: each requested solver as configured by default (HiGHS, then Clarabel), then each
again on the rescaled, row-equilibrated program of ``scaling.py`` with tightened tolerances.
An answer is accepted only when the independent feasibility check (``verify.py``) and the
duality certificate (``certificate.py``) both pass; otherwise the next attempt runs, and
when none is left the result is ``solver_error`` with the measured violations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..formulation.components.monitoring import cost_scale
from ..formulation.program import CompiledProgram
from ..model.arrays import ProblemArrays
from ..results.result import Verification
from .certificate import GAP_TOLERANCE, duality_certificate

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


@dataclass(frozen=True)
class Attempt:
    solver: str
    scaled: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.solver} (rescaled, tight)" if self.scaled else self.solver


#: Solvers that handle second-order and exponential cones (HiGHS solves linear programs only).
CONIC_SOLVERS = ("CLARABEL",)
#: Options for a first conic attempt: Clarabel's defaults (1e-8) leave cone programs about
#: 1e-6 above their optimum, which no duality check catches for them.
CONIC_OPTIONS: Mapping[str, Any] = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def attempt_plan(solvers: Sequence[str], linear: bool = True) -> tuple[Attempt, ...]:
    """Every solver as configured, then every solver on the rescaled program, tightened.

    A program with cones skips solvers that cannot take them and starts tighter.
    """
    if not linear:
        conic = [s for s in solvers if s in CONIC_SOLVERS] or list(CONIC_SOLVERS)
        first = tuple(Attempt(s, False, CONIC_OPTIONS) for s in conic)
        return first + tuple(Attempt(s, True, TIGHT_OPTIONS.get(s, {})) for s in conic)
    plain = tuple(Attempt(s) for s in solvers)
    rescaled = tuple(Attempt(s, True, TIGHT_OPTIONS.get(s, {})) for s in solvers)
    return plain + rescaled


def certified(
    verification: Verification,
    program: CompiledProgram,
    arrays: ProblemArrays,
    tolerance: float = GAP_TOLERANCE,
) -> Verification:
    """``verification`` with the program's duality certificate added; passes only if both do."""
    scale = cost_scale(arrays) / float(getattr(program, "objective_scale", 1.0))
    certificate = duality_certificate(program.problem, tolerance, objective_scale=scale)
    return replace(
        verification, passed=verification.passed and certificate.passed, duality=certificate
    )
