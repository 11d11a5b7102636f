"""Compatibility: :func:`write_atomic` lives in :mod:`deter.solver.report.files`.

The library writes reports and plots itself, and the solver never imports the CLI, so the
one way of writing a file sits in the solver; the CLI keeps importing it from here.
"""

from __future__ import annotations

from ..solver.report.files import write_atomic

__all__ = ["write_atomic"]
