"""Incentive comparisons decided exactly where float64 cannot (issue 12).

Verification evaluates every incentive row in float64 first. A row whose float value lies
within :func:`float_band` of zero (a generous bound on float64's error for that row) is
undecided, and only such a row is decided here:

* linear detection and a risk-neutral agent: exactly, in ``fractions.Fraction`` (every rate,
  gain, cap and detection probability is a binary64 number, hence an exact rational, and
  P_i = min(1, sum_j q_ij x_j + sum h_ij(x_j)) is a rational too);
* CARA utility or exponential detection: with ``mpmath`` at :data:`DIGITS` significant digits
  (then 4 x as many when the value is still within 10^-(DIGITS - 20) of its terms; closer
  than that at 4 x DIGITS it is a tie, and ties go to the principal), after multiplying the
  row by the positive number |r| exp(r g_0), so no term overflows or cancels against 1/r:

      s [ (1 - P_0) + P_0 e^{r F_fp} - (1 - P_i) e^{-r (g_i - g_0)} - P_i e^{-r (g_i - g_0 - F_i)} ]
          + |r| e^{r g_0} m  <=  0,        s = sign(r).

A row is deterred when its value is <= 0 (ties go to the principal). ``mpmath`` is imported
only when a row needs it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .arrays import ProblemArrays
from .envelope import roc_points
from .utility import FloatArray, utility

#: mpmath's significant digits for a CARA or exponential row (then 4 x as many).
DIGITS = 80
#: Float64's unit round-off.
EPS = float(np.finfo(float).eps)
#: Safety factor on the float error bound (the bound counts operations, not their signs).
BAND_FACTOR = 16.0


@dataclass(frozen=True)
class ExactRow:
    """An incentive row decided exactly: deterred iff ``value <= 0``; ``relative`` is the
    value over the size of its terms (0 for a tie)."""

    deterred: bool
    relative: float


def float_band(
    arrays: ProblemArrays, actions: np.ndarray, penalties: FloatArray | None = None
) -> FloatArray:
    """A bound on float64's relative error in each row's value, per action in ``actions``,
    as a multiple of the size of the row's utilities (|u(g_i)| + |u(g_i - F_i)| +
    |u(-F_fp)| + the margin: see :func:`row_size`).

    Counts the operations each row's float evaluation makes: the products summed into P_i
    and P_0 (one round-off each), the exponentials (an argument w carries an error eps |r w|
    into exp(-r w)), the four terms summed, and a factor BAND_FACTOR of room.
    """
    r = abs(arrays.risk_aversion)
    per_row = np.diff(arrays.detection.indptr)[actions].astype(float)
    for curve in arrays.roc:
        per_row[actions == curve.action] += 4.0 * len(curve.points)
    flags = float(np.count_nonzero(arrays.false_positive))
    cap = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
    g0 = float(arrays.gain[arrays.compliant])
    reach = r * (
        np.abs(arrays.gain[actions])
        + abs(g0)
        + np.abs(cap[actions])
        + arrays.false_positive_penalty
    )
    operations = per_row + flags + 16.0 + 2.0 * reach
    return np.asarray(BAND_FACTOR * EPS * operations)


def row_size(
    arrays: ProblemArrays, actions: np.ndarray, penalties: FloatArray | None = None
) -> FloatArray:
    """|u(g_i)| + |u(g_i - F_i)| + |u(-F_fp)| + margin, in the verification's units (wealth
    relative to g_0, utilities times exp(r g_0)): what a row's float error is relative to."""
    r = arrays.risk_aversion
    cap = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
    g0 = float(arrays.gain[arrays.compliant])
    relative = arrays.gain[actions] - g0
    margin = arrays.margin * (math.exp(r * g0) if r and abs(r * g0) < 700 else 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        total = (
            np.abs(utility(relative, r))
            + np.abs(utility(relative - cap[actions], r))
            + abs(float(utility(np.array(-arrays.false_positive_penalty), r)))
            + abs(margin)
        )
    return np.asarray(total)


def _fraction(value: float) -> Fraction:
    return Fraction(float(value))


def _roc_detection(points: Any, rate: Fraction) -> Fraction:
    """h(x) exactly: the best mix of two ROC thresholds straddling x (envelope.py's rule)."""
    pts = [(_fraction(a), _fraction(b)) for a, b in roc_points(points)]
    best: Fraction | None = None
    for xa, ya in pts:
        if xa > rate:
            continue
        for xb, yb in pts:
            if xb < rate:
                continue
            width = xb - xa
            if width > 0:
                weight = (rate - xa) / width
                value = (1 - weight) * ya + weight * yb
            else:
                value = max(ya, yb)
            best = value if best is None or value > best else best
    return Fraction(0) if best is None else best


class ExactPolicy:
    """One policy's detections as exact rationals (linear) or mpmath numbers (exponential),
    computed on demand per action."""

    def __init__(
        self, arrays: ProblemArrays, rates: FloatArray, penalties: FloatArray | None = None
    ) -> None:
        self.arrays = arrays
        self.rates = [_fraction(x) for x in np.asarray(rates, dtype=float)]
        cap = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
        self.penalty = [_fraction(f) for f in cap]
        self.g0 = _fraction(arrays.gain[arrays.compliant])
        self.r = _fraction(arrays.risk_aversion)
        self.margin = _fraction(arrays.margin)
        self.ffp = _fraction(arrays.false_positive_penalty)
        self.linear = arrays.detection_model != "exponential"
        self._p0: Fraction | None = None

    def _row(self, action: int) -> Iterable[tuple[int, float]]:
        matrix = self.arrays.detection
        start, end = matrix.indptr[action], matrix.indptr[action + 1]
        return zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True)

    def linear_detection(self, action: int) -> Fraction:
        reach = sum((_fraction(q) * self.rates[j] for j, q in self._row(action)), Fraction(0))
        for curve in self.arrays.roc:
            if curve.action == action:
                reach += _roc_detection(curve.points, self.rates[curve.monitor])
        return min(Fraction(1), reach)

    def linear_false_flags(self) -> Fraction:
        if self._p0 is None:
            total = sum(
                (
                    _fraction(f) * self.rates[j]
                    for j, f in enumerate(self.arrays.false_positive.tolist())
                    if f
                ),
                Fraction(0),
            )
            self._p0 = min(Fraction(1), max(Fraction(0), total))
        return self._p0

    def decide(self, action: int) -> ExactRow:
        """Is ``action`` deterred by the margin at this policy, exactly?"""
        gap = _fraction(self.arrays.gain[action]) - self.g0
        penalty = self.penalty[action]
        if self.linear and self.r == 0:
            p = self.linear_detection(action)
            p0 = self.linear_false_flags()
            value = gap - p * penalty + p0 * self.ffp + self.margin
            size = abs(gap) + p * penalty + p0 * self.ffp + self.margin
            return ExactRow(value <= 0, float(value / size) if size else 0.0)
        return self._decide_mp(action, gap, penalty)

    def _decide_mp(self, action: int, gap: Fraction, penalty: Fraction) -> ExactRow:
        import mpmath

        def mpf(value: Fraction) -> Any:
            return mpmath.mpf(value.numerator) / value.denominator

        for digits in (DIGITS, 4 * DIGITS):
            with mpmath.workdps(digits):
                p, one_minus_p = self._mp_detection(mpf, action)
                p0, one_minus_p0 = self._mp_detection(mpf, None)
                if self.r == 0:
                    terms = [mpf(gap), -p * mpf(penalty), p0 * mpf(self.ffp), mpf(self.margin)]
                    value = mpmath.fsum(terms)
                    size = mpmath.fsum(abs(t) for t in terms)
                else:
                    r = mpf(self.r)
                    sign = 1 if self.r > 0 else -1
                    g = mpf(gap)
                    terms = [
                        one_minus_p0,
                        p0 * mpmath.exp(r * mpf(self.ffp)),
                        -one_minus_p * mpmath.exp(-r * g),
                        -p * mpmath.exp(-r * (g - mpf(penalty))),
                    ]
                    big_m = abs(r) * mpmath.exp(r * mpf(self.g0)) * mpf(self.margin)
                    value = sign * mpmath.fsum(terms) + big_m
                    size = mpmath.fsum(abs(t) for t in terms) + abs(big_m)
                if abs(value) > size * mpmath.mpf(10) ** (20 - digits):
                    return ExactRow(bool(value <= 0), float(value / size))
        return ExactRow(True, 0.0)  # a tie to 300 digits: ties go to the principal

    def _mp_detection(self, mpf: Any, action: int | None) -> tuple[Any, Any]:
        """(P, 1 - P) for ``action`` (None: the compliant agent's false flags)."""
        import mpmath

        if self.linear:
            p = self.linear_false_flags() if action is None else self.linear_detection(action)
            return mpf(p), mpf(1 - p)
        pairs = (
            enumerate(self.arrays.false_positive.tolist()) if action is None else self._row(action)
        )
        exponent = mpmath.mpf(0)
        for j, q in pairs:
            if q > 0 and self.rates[j] > 0:
                exponent += mpf(self.rates[j]) * mpmath.log1p(-mpf(_fraction(q)))
        return -mpmath.expm1(exponent), mpmath.exp(exponent)


def exact_preference(
    arrays: ProblemArrays,
    rates: FloatArray,
    r: float,
    reference: float,
    kept: tuple[int, float],
    other: tuple[int, float],
) -> ExactRow:
    """Does action ``kept[0]`` at gain ``kept[1]`` pay at least the margin more than action
    ``other[0]`` at gain ``other[1]``, for a CARA agent ``r`` at the policy ``rates``
    (linear detection; the compliant action is caught with P_0 and pays the false-positive
    penalty)? ``deterred`` is True when it does (``value`` = EU(other) - EU(kept) + margin
    <= 0, ties to the principal), decided exactly: fractions for r = 0, else mpmath as
    :meth:`ExactPolicy.decide`, wealth relative to ``reference`` (the margin times
    exp(r reference), as the strategic checks hold it) and the row times |r|."""
    policy = ExactPolicy(arrays, rates)
    c = arrays.compliant
    ref = _fraction(reference)
    sides = []
    for action, gain in (other, kept):
        p = policy.linear_false_flags() if action == c else policy.linear_detection(action)
        penalty = policy.ffp if action == c else policy.penalty[action]
        sides.append((p, _fraction(gain) - ref, penalty))
    if r == 0:
        terms = []
        for sign, (p, w, penalty) in zip((1, -1), sides, strict=True):
            terms += [sign * w, -sign * p * penalty]
        terms.append(policy.margin)
        value = sum(terms, Fraction(0))
        size = sum((abs(t) for t in terms), Fraction(0))
        return ExactRow(value <= 0, float(value / size) if size else 0.0)
    return _preference_mp(sides, _fraction(r), ref, policy.margin)


def _preference_mp(
    sides: list[tuple[Fraction, Fraction, Fraction]], r: Fraction, ref: Fraction, margin: Fraction
) -> ExactRow:
    """|r| (EU(other) - EU(kept) + margin e^{r ref}) in mpmath, u(w) = -expm1(-r w) / r."""
    import mpmath

    def mpf(value: Fraction) -> Any:
        return mpmath.mpf(value.numerator) / value.denominator

    sign = 1 if r > 0 else -1
    for digits in (DIGITS, 4 * DIGITS):
        with mpmath.workdps(digits):
            rate = mpf(r)
            terms = []
            for side, (p, w, penalty) in zip((1, -1), sides, strict=True):
                for weight, wealth in ((1 - p, w), (p, w - penalty)):
                    if weight:
                        terms.append(-side * sign * mpf(weight) * mpmath.expm1(-rate * mpf(wealth)))
            terms.append(abs(rate) * mpmath.exp(rate * mpf(ref)) * mpf(margin))
            value = mpmath.fsum(terms)
            size = mpmath.fsum(abs(t) for t in terms)
            if abs(value) > size * mpmath.mpf(10) ** (20 - digits):
                return ExactRow(bool(value <= 0), float(value / size))
    return ExactRow(True, 0.0)  # a tie to 300 digits: ties go to the principal


def exact_cost_exceeds(cost: FloatArray, rates: FloatArray, budget: float) -> bool:
    """sum_j c_j x_j > budget, decided exactly (the rates and costs are binary64 numbers)."""
    total = sum(
        (_fraction(c) * _fraction(x) for c, x in zip(cost.tolist(), rates.tolist(), strict=True)),
        Fraction(0),
    )
    return total > _fraction(budget)
