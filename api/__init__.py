"""deter: least-cost oversight that makes misaligned actions not pay.

A small API for notebooks and scripts::

    import deter
    spec = deter.load_spec("problems/coding_agent.toml")
    result = deter.solve(spec)
    result.total_cost, result.monitor("llm_judge").rate

The command-line tool (``deter solve ...``) is built on these same two calls.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .solver import (
    DeterError,
    InfeasibleError,
    SolverError,
    Spec,
    SpecError,
    SpecIssue,
    load_spec,
    solve,
)

try:
    __version__ = version("deter")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = [
    "DeterError",
    "InfeasibleError",
    "SolverError",
    "Spec",
    "SpecError",
    "SpecIssue",
    "__version__",
    "load_spec",
    "solve",
]
