"""Compatibility: :func:`write_atomic` (and the output checks) live in
:mod:`deter.solver.report.files`.

The library writes reports and plots itself, and the solver never imports the CLI, so the
one way of writing a file sits in the solver; the CLI keeps importing it from here.
"""

from __future__ import annotations

from ..solver.report.files import (
    UnsafeOutput,
    check_output,
    input_scope,
    remember_input,
    write_atomic,
)

__all__ = ["UnsafeOutput", "check_output", "input_scope", "remember_input", "write_atomic"]
