"""deter's solver: spec model, formulation, solve and verification.

Importing this package is cheap: its names load on first use (the spec model's pydantic
classes take a tenth of a second to build, which ``deter batch`` does not wait for before it
starts its workers: ``cli/entry.py``), and cvxpy only when something is solved, so reading
and validating specs stays fast (``deter validate``, ``deter schema``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results.errors import DeterError, InfeasibleError, SolverError, SpecError, SpecIssue
    from .results.result import Result
    from .spec.document import Spec
    from .spec.loading import load_spec, parse_spec_text

#: Each name and the module it is loaded from on first use.
_LAZY = {
    "DeterError": ".results.errors",
    "InfeasibleError": ".results.errors",
    "SolverError": ".results.errors",
    "SpecError": ".results.errors",
    "SpecIssue": ".results.errors",
    "Spec": ".spec.document",
    "load_spec": ".spec.loading",
    "parse_spec_text": ".spec.loading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
