"""deter: least-cost oversight that makes misaligned actions not pay.

A small API for notebooks and scripts::

    import deter
    spec = deter.load_spec("problems/coding_agent.toml")
    result = deter.solve(spec)
    result.total_cost, result.monitor("llm_judge").rate

The command-line tool (``deter solve ...``) is built on these same two calls.
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    # The version is read from the installed metadata only when asked for: importlib.metadata
    # costs more start-up time than every command but --version needs.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("deter")
        except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
            return "0+unknown"
    raise AttributeError(f"module 'deter' has no attribute {name!r}")


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
