"""deter's solver: spec model, formulation, solve and verification.

Importing this package is cheap: cvxpy is imported only when something is solved, so
reading and validating specs stays fast (``deter validate``, ``deter schema``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .results.errors import DeterError, InfeasibleError, SolverError, SpecError, SpecIssue
from .spec.document import Spec
from .spec.loading import load_spec, parse_spec_text

if TYPE_CHECKING:
    from .results.result import Result


def solve(spec: Spec, **options: Any) -> Result:
    """Solve a spec: see :func:`deter.solver.engine.solve.solve`."""
    from .engine.solve import solve as _solve

    return _solve(spec, **options)


__all__ = [
    "DeterError",
    "InfeasibleError",
    "SolverError",
    "Spec",
    "SpecError",
    "SpecIssue",
    "load_spec",
    "parse_spec_text",
    "solve",
]
