"""Solving a spec: the one entry point of the engine.

Every formulation goes through the same pipeline: build the program, try the attempt plan
(solvers in turn, then the rescaled retry; ``attempts.py``), verify each answer against the
model itself, certify it (``certificate.py``), and build the typed result once. Specs with
strategic features (harms under ``min_loss``, agent types, fixed deployment costs, an
auditor) are solved as commitment programs (``strategic.py``); exponential detection with
false flags by a global search (``flag_search.py``, ``flag_result.py``); all others as the
core full-deterrence program (``core.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..formulation.program import SOLVER_ORDER
from ..results.result import Result
from ..spec.document import Spec
from ..spec.strategy import uses_strategy
from .core import solve_core
from .flag_result import solve_false_flags
from .learner import solve_learner, with_learner_verdict
from .strategic import solve_strategic
from .verify import TOLERANCE


def solve(
    spec: Spec, *, solvers: Sequence[str] = SOLVER_ORDER, tolerance: float = TOLERANCE
) -> Result:
    """The least-cost oversight policy for ``spec``.

    ``solvers`` are tried in order (names as cvxpy knows them: ``"HIGHS"``, ``"CLARABEL"``);
    ``tolerance`` is the largest relative violation verification accepts. Returns a
    :class:`Result` whose status is ``optimal``, ``infeasible`` (with a diagnosis) or
    ``solver_error`` (with what each attempt did); call ``raise_for_status()`` for
    exceptions instead.

    A ``[learner]`` with ``bound = "bernstein"`` is solved by the outer iteration of
    ``learner.py`` around the rest, and its final policy certified.
    """
    if spec.learner is not None and spec.learner.bound == "bernstein":
        result = solve_learner(
            spec, lambda s: _solve_one(s, solvers=solvers, tolerance=tolerance), tolerance
        )
    else:
        result = _solve_one(spec, solvers=solvers, tolerance=tolerance)
    return with_learner_verdict(spec, result)


def _solve_one(spec: Spec, *, solvers: Sequence[str], tolerance: float) -> Result:
    if uses_strategy(spec):
        return solve_strategic(spec, solvers=solvers, tolerance=tolerance)
    if spec.oversight.detection == "exponential":
        # with false flags the model is not convex: a global search (flag_search.py)
        found = solve_false_flags(spec, tolerance)
        if found is not None:
            return found
    return solve_core(spec, solvers=solvers, tolerance=tolerance)
