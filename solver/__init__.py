"""deter's solver: spec model, formulation, solve and verification.

Importing this package is cheap: cvxpy is imported only when something is solved, so
reading and validating specs stays fast (``deter validate``, ``deter schema``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DeterError, InfeasibleError, SolverError, SpecError, SpecIssue
from .loading import load_spec, parse_spec_text
from .spec import Spec

if TYPE_CHECKING:
    from .result import Result


def solve(spec: Spec, **options: Any) -> Result:
    """Solve a spec: see :func:`deter.solver.solve.solve`."""
    from .solve import solve as _solve

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
