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
    """
    if uses_strategy(spec):
        return solve_strategic(spec, solvers=solvers, tolerance=tolerance)
    if spec.oversight.detection == "exponential":
        # with false flags the model is not convex: a global search (flag_search.py)
        found = solve_false_flags(spec, tolerance)
        if found is not None:
            return found
    return solve_core(spec, solvers=solvers, tolerance=tolerance)
