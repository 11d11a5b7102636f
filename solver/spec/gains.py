"""An action's gain: a number, or an interval [low, high] deterrence must hold across."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

from .limits import MAX_MAGNITUDE, representable


def _is_finite_number(value: Any) -> bool:
    if type(value) is int:
        return abs(value) <= MAX_MAGNITUDE  # also: an int beyond binary64 never converts
    return type(value) is float and math.isfinite(value)


def gain_value(value: Any) -> Any:
    """Accept a finite number, or an interval [low, high] of finite numbers with low <= high."""
    if _is_finite_number(value):
        return representable(float(value))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_is_finite_number(v) for v in value)
    ):
        low, high = representable(float(value[0])), representable(float(value[1]))
        if low > high:
            raise ValueError(f"the interval [{low:g}, {high:g}] has its low end above its high end")
        return (low, high)
    raise ValueError(
        f"must be a finite number or an interval [low, high] of two finite numbers, not {value!r}"
    )


#: A gain: a number, or an interval (low, high).
Gain = Annotated[float | tuple[float, float], BeforeValidator(gain_value)]


def gain_bounds(gain: float | tuple[float, float]) -> tuple[float, float]:
    """(low, high) of a gain; a number is the interval [g, g]."""
    if isinstance(gain, tuple):
        return gain
    return (float(gain), float(gain))


def worst_case_gain(gain: float | tuple[float, float], compliant: bool) -> float:
    """The gain at which deterrence binds: the high end for a deviation, the low end for compliance.

    The agent's expected utility of an action, (1 - P) u(g) + P u(g - F), increases with g for
    any CARA coefficient (its derivative is (1 - P) u'(g) + P u'(g - F) > 0), so "deterred for
    every g_i in [lo_i, hi_i] and g_0 in [lo_0, hi_0]" is exactly "deterred at hi_i and lo_0".
    """
    low, high = gain_bounds(gain)
    return low if compliant else high
