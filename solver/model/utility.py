"""The agent's utility over money: CARA (constant absolute risk aversion).

u(w) = w                      when r = 0 (risk neutral, Becker 1968)
u(w) = (1 - exp(-r w)) / r    otherwise (Pratt 1964; Arrow 1965)

Written with ``expm1`` so that small r tends smoothly to the risk-neutral case.
Utility differences are invariant, up to a positive factor, to shifting every wealth by the
same amount, so callers measure wealth relative to the compliant action's gain; that keeps
``exp`` in range for large gains.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def utility(wealth: ArrayLike, r: float) -> FloatArray:
    """u(w) for CARA coefficient ``r``."""
    w = np.asarray(wealth, dtype=float)
    if r == 0:
        return w.copy()
    with np.errstate(over="ignore"):
        return np.asarray(-np.expm1(-r * w) / r)


def marginal_utility(wealth: ArrayLike, r: float) -> FloatArray:
    """u'(w) = exp(-r w)."""
    w = np.asarray(wealth, dtype=float)
    with np.errstate(over="ignore"):
        return np.asarray(np.exp(-r * w))


def expected_marginal_utility(
    gain: ArrayLike, penalty: ArrayLike, caught: ArrayLike, r: float
) -> FloatArray:
    """(1 - P) u'(g) + P u'(g - F): how much the value of an action grows with its gain,
    which turns an incentive row's multiplier into a shadow price of the gain."""
    g = np.asarray(gain, dtype=float)
    p = np.asarray(caught, dtype=float)
    free = marginal_utility(g, r)
    caught_value = marginal_utility(g - np.asarray(penalty, dtype=float), r)
    # An outcome that cannot happen (P = 0 or 1) adds nothing, even where its marginal
    # utility is beyond float range (0 x inf would be nan).
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(
            np.where(p < 1, (1 - p) * free, 0.0) + np.where(p > 0, p * caught_value, 0.0)
        )


def caught_loss(gain: ArrayLike, penalty: ArrayLike, r: float) -> FloatArray:
    """u(g) - u(g - F): the utility an agent loses when it is caught and pays F.

    For r != 0 this is exp(-r g) * expm1(r F) / r, which is >= 0 for F >= 0 and any r.
    """
    g = np.asarray(gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    if r == 0:
        return np.asarray(np.broadcast_to(f, np.broadcast(g, f).shape), dtype=float).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(np.exp(-r * g) * np.expm1(r * f) / r)


def expected_utility(
    gain: ArrayLike, penalty: ArrayLike, caught: ArrayLike, r: float
) -> FloatArray:
    """(1 - P) u(g) + P u(g - F): the value of an action caught with probability P."""
    g = np.asarray(gain, dtype=float)
    p = np.asarray(caught, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 beyond exp's range: nan
        return (1 - p) * utility(g, r) + p * utility(g - np.asarray(penalty, dtype=float), r)


def certainty_equivalent(
    gain: ArrayLike, penalty: ArrayLike, caught: ArrayLike, r: float
) -> FloatArray:
    """u^{-1}((1 - P) u(g) + P u(g - F)): the sure money an agent values the action at.

    For r != 0 it is -(1/r) log((1 - P) exp(-r g) + P exp(-r (g - F))), computed as a
    log-sum-exp, so it is finite wherever the inputs are (a gain of -2e4 at r = 2.4 would
    overflow exp(-r g) in the direct form)."""
    g = np.asarray(gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    p = np.clip(np.asarray(caught, dtype=float), 0.0, 1.0)
    if r == 0:
        return np.asarray(g - p * f)
    with np.errstate(divide="ignore"):
        free = np.where(p < 1, np.log1p(-p) - r * g, -np.inf)
        caught_term = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)) - r * (g - f), -np.inf)
    return np.asarray(-np.logaddexp(free, caught_term) / r)
