"""Overflow-free forms of the CARA quantities, for gains and penalties far beyond exp's range.

With u(w) = (1 - exp(-r w)) / r, an agent's expected utility needs exp(-r w) for w = g - F
(caught) and w = g (not caught): for r = 1 and a penalty of 1,000 that is exp(1000), beyond
float64. Every comparison deter makes is of the form  sign(r) (A_0 - A_i + r m) <= 0  with

    A_i = (1 - P_i) exp(-r g_i) + P_i exp(-r (g_i - F_i))     (wealth relative to g_0)
    A_0 = (1 - P_0) + P_0 exp(r F_fp),

(since EU = (1 - A) / r), and each A is a sum of exponentials, so log A is a log-sum-exp that
never overflows. The relative violation divides by the largest of the terms, exp(L), which
is exact in logs. The incentive rows' right-hand side k_i / d_i = expm1(r g) / expm1(r F)
(``need_ratio``) is likewise a ratio of two quantities whose logs are finite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .utility import FloatArray

if TYPE_CHECKING:
    from .arrays import ProblemArrays

#: The smallest positive detection need kept (see ``need_ratio``).
NEED_FLOOR = float(np.finfo(float).tiny)  # the smallest normal float64, 2.2e-308
#: |r w| beyond which the direct formulas lose all precision or overflow.
DIRECT_LIMIT = 30.0


def log_expm1(a: FloatArray) -> FloatArray:
    """log(exp(a) - 1) for a > 0, without overflow (a + log1p(-exp(-a)))."""
    a = np.asarray(a, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.where(a > 30, a + np.log1p(-np.exp(-a)), np.log(np.expm1(a)))


def log_abs_expm1(x: FloatArray) -> FloatArray:
    """log|expm1(x)| for any x, without overflow."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            x > 0, log_expm1(np.maximum(x, 1e-300)), np.log(-np.expm1(np.minimum(x, -0.0)))
        )


def need_ratio(gain: ArrayLike, penalty: ArrayLike, r: float) -> FloatArray:
    """k/d = u(g) / (u(g) - u(g - F)) = expm1(r g) / expm1(r F): the detection that deters.

    Finite for every finite r, g and F > 0 (r = 0: g / F).
    """
    g = np.asarray(gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    if r == 0:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.asarray(g / f)
    a, b = r * g, r * f
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # |expm1(x)| = exp(log|expm1(x)|): for x > 0 log_expm1, for x < 0 log(-expm1(x)).
        log_num = log_abs_expm1(a)
        log_den = log_abs_expm1(b)
        ratio = np.sign(a) * np.sign(b) * np.exp(log_num - log_den)
    # A positive need that underflows (exp(-1000)) is still positive: any detection at all
    # deters, none does not. Keep it at the smallest normal-ish number so rows stay strict.
    ratio = np.where((a * b > 0) & (ratio < NEED_FLOOR), NEED_FLOOR, ratio)
    return np.asarray(np.where(a == 0, 0.0, ratio))


def incentive_violation(
    gain: ArrayLike,
    penalty: ArrayLike,
    detection: ArrayLike,
    false_flags: float,
    false_positive_penalty: float,
    r: float,
    margin: float,
    compliant_gain: float,
) -> tuple[FloatArray, FloatArray]:
    """(violation, relative violation) of each row  EU_i <= EU_0 - margin, in log space.

    ``gain`` is relative to the compliant gain; ``margin`` is in utility units of absolute
    wealth (the spec's), so it enters as r m exp(r g_0). The violation is in units of the
    largest term, exp(L); the relative violation divides by that term.
    """
    g = np.asarray(gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    p = np.clip(np.asarray(detection, dtype=float), 0.0, 1.0)
    p0 = float(np.clip(false_flags, 0.0, 1.0))
    if r == 0:
        raise ValueError("incentive_violation is for r != 0; r = 0 has no exponentials")
    with np.errstate(divide="ignore"):
        log_a_i = np.logaddexp(np.log1p(-p) - r * g, np.log(p) + r * (f - g))
        log_a_0 = float(np.logaddexp(np.log1p(-p0), np.log(p0) + r * false_positive_penalty))
        log_m = np.log(abs(r) * margin) + r * compliant_gain if margin > 0 else -np.inf
    top = np.maximum(np.maximum(log_a_i, log_a_0), log_m)
    top = np.where(np.isfinite(top), top, 0.0)
    relative = np.sign(r) * (np.exp(log_a_0 - top) - np.exp(log_a_i - top)) + np.exp(log_m - top)
    return relative, relative


def overflows(gain: ArrayLike, penalty: ArrayLike, r: float) -> bool:
    """True when the direct CARA formulas would leave float range or lose their precision."""
    if r == 0:
        return False
    g = np.abs(np.asarray(gain, dtype=float))
    f = np.abs(np.asarray(penalty, dtype=float))
    return bool(abs(r) * float(np.max(g + f, initial=0.0)) > DIRECT_LIMIT)


#: Largest coefficient the rescaled rows may carry; beyond it a false flag costs the
#: compliant agent so much more than being caught costs a deviator that no policy with
#: false flags can deter (the verification then says so).
WEIGHT_CEILING = 1e15


def stable_incentive_rows(
    relative_gain: FloatArray,
    penalty: FloatArray,
    false_positive_penalty: float,
    r: float,
    margin: float,
    compliant_gain: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(k_i/d_i, d_0/d_i, detection weight) of the incentive rows, finite for any numbers.

    k_i/d_i = expm1(r g)/expm1(r F) + m r exp(r (g_0 + g)) / expm1(r F),
    d_0/d_i = expm1(r F_fp) exp(r g) / expm1(r F); rows with F_i = 0 keep d_i = 1.
    """
    g = np.asarray(relative_gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    caught = f > 0
    safe_f = np.where(caught, f, 1.0)
    need = need_ratio(g, safe_f, r)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if r == 0:
            flag = np.full(g.shape, false_positive_penalty) / safe_f
            extra = margin / safe_f
        else:
            log_den = np.where(r > 0, log_expm1(r * safe_f), np.log(-np.expm1(r * safe_f)))
            log_flag = (
                r * g
                - log_den
                + (
                    log_expm1(np.array(r * false_positive_penalty))
                    if r > 0
                    else np.log(-np.expm1(np.array(r * false_positive_penalty)))
                )
            )
            flag = np.exp(log_flag) if false_positive_penalty > 0 else np.zeros(g.shape)
            extra = (
                np.exp(np.log(abs(r) * margin) + r * (compliant_gain + g) - log_den)
                if margin > 0
                else np.zeros(g.shape)
            )
    with np.errstate(invalid="ignore"):  # inf - inf where both overflow: nan, clipped below
        need = np.where(caught, need + extra, utility_or_gain(g, r) + margin)
    flag = np.where(caught, flag, false_positive_penalty)
    need = np.clip(np.nan_to_num(need, nan=WEIGHT_CEILING), -WEIGHT_CEILING, WEIGHT_CEILING)
    flag = np.clip(np.nan_to_num(flag, nan=WEIGHT_CEILING), 0.0, WEIGHT_CEILING)
    return need, flag, np.where(caught, 1.0, 0.0)


def stable_rows_of(
    arrays: ProblemArrays, penalties: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`stable_incentive_rows` of ``arrays``' deviations (``penalties`` per action,
    default the caps): the one place the six numbers are taken from a problem."""
    dev = arrays.deviations
    cap = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
    compliant_gain = float(arrays.gain[arrays.compliant])
    return stable_incentive_rows(
        arrays.gain[dev] - compliant_gain,
        cap[dev],
        arrays.false_positive_penalty,
        arrays.risk_aversion,
        arrays.margin,
        compliant_gain,
    )


def need_headroom(
    relative_gain: FloatArray,
    penalty: FloatArray,
    r: float,
    margin: float,
    compliant_gain: float,
) -> FloatArray:
    """1 - k_i/d_i of ``stable_incentive_rows`` without the cancellation of 1 - need: a
    risk-seeking agent that must be caught surely has a need of 1 - e^{-264}, 1.0 in
    binary64, while the room below 1 it leaves for false flags is e^{-264}, a float.

    1 - expm1(r g)/expm1(r F) = e^{r g} expm1(r (F - g)) / expm1(r F) (r = 0: (F - g)/F),
    less the margin's part of the need. Rows with F = 0 are nan (they have no such room)."""
    g = np.asarray(relative_gain, dtype=float)
    f = np.asarray(penalty, dtype=float)
    safe_f = np.where(f > 0, f, np.nan)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if r == 0:
            return np.asarray((safe_f - g - margin) / safe_f)
        log_den = log_abs_expm1(r * safe_f)
        room = np.sign(safe_f - g) * np.exp(r * g + log_abs_expm1(r * (safe_f - g)) - log_den)
        extra = (
            np.exp(np.log(abs(r) * margin) + r * (compliant_gain + g) - log_den)
            if margin > 0
            else 0.0
        )
        return np.asarray(room - extra)


def utility_or_gain(g: FloatArray, r: float) -> FloatArray:
    """u(g) clipped to the weight ceiling (rows without a penalty: need = u(g) + margin)."""
    if r == 0:
        return g
    with np.errstate(over="ignore"):
        return np.asarray(np.clip(-np.expm1(-r * g) / r, -WEIGHT_CEILING, WEIGHT_CEILING))
