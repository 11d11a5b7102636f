"""Hypothesis strategies for the numbers a spec may hold.

Every number in a spec is 0 or has a magnitude within deter's range
(``solver/spec/limits.py``: 1e-12 to 1e12); specs drawn for property tests stay within it, as
a user's must (numbers beyond it are refused at load time, tested in tests/spec).
"""

from __future__ import annotations

from deter.solver.spec.limits import MAX_MAGNITUDE, MIN_MAGNITUDE
from hypothesis import strategies as st


def in_range(low: float, high: float) -> st.SearchStrategy[float]:
    """Finite floats in [low, high] that a spec accepts: 0, or |v| in the range."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False).filter(
        lambda v: v == 0 or MIN_MAGNITUDE <= abs(v) <= MAX_MAGNITUDE
    )
