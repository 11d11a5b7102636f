"""Best-response rows of typed agents in log space: finite for any gains, penalties and r.

Row t = (k, a, i) says type k prefers action a (at the low end of its gain) to action i (at
the high end) by its margin (docs/model.md, "Types"; ``formulation/commitment.py``):

    EU_ka(P) - EU_ki(P) - m_k >= 0,    EU_kj(P) = u_k(g_kj) - P_j D_kj,
    D_kj = u_k(g_kj) - u_k(g_kj - F_j)  (the compliant action: F_fp, P_0 = f.x).

With CARA utility u(w) = (1 - e^{-r w}) / r and wealth w relative to the type's low
compliant gain, each row times |r| e^{r g_a} (a positive number) has terms

    |r| e^{r g_a} (u(g_a) - u(g_i)) = s |expm1(r (g_a - g_i))|,     s = sign(g_a - g_i)
    |r| e^{r g_a} D_a               = |expm1(r F_a)|
    |r| e^{r g_a} D_i               = e^{r (g_a - g_i)} |expm1(r F_i)|
    |r| e^{r g_a} m_k               = |r| m e^{r g_a}        (m in utility units of spec wealth)

whose logs are finite for any r and gains, and whose exponents are r F and r (g_a - g_i):
differences of the spec's own numbers, never a large common part that would cancel
(r = 0: g_a - g_i, F_a, F_i and m). Each row is then divided by e^{L_t}, L_t the largest
log of its terms, so its numbers are at most about 1 whatever |r| x gain: a risk-seeking
type with |r| g = 5,000 (e^5000 is far beyond binary64's e^709) has rows of order 1.
Dividing a row by a positive number changes neither the set of policies that satisfy it nor
its relative violation, which is what verification reads. Their round-off is that of the
logs, about eps x |r| (|g_a| + |g_i| + F_a + F_i) relative (``PairLogs.exponent``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .stable import DIRECT_LIMIT, log_abs_expm1
from .types import StrategicArrays
from .utility import FloatArray

#: A row's coefficient below this fraction of its largest term is taken as 0.
NEGLIGIBLE = 1e-250


@dataclass(frozen=True)
class PairLogs:
    """The logs of the terms of rows t = (k, a, i), each term times |r_k| e^{r_k g_a}
    (-inf: the term is 0)."""

    sign: FloatArray  # sign of u(g_a) - u(g_i)
    difference: FloatArray  # log |u(g_a) - u(g_i)|
    own: FloatArray  # log D_a: what a loses when caught
    other: FloatArray  # log D_i
    margin: FloatArray  # log m_k
    free_own: FloatArray  # log |u(g_a)|
    caught_own: FloatArray  # log |u(g_a - F_a)|
    free_other: FloatArray  # log |u(g_i)|
    caught_other: FloatArray  # log |u(g_i - F_i)|
    r: FloatArray  # r_k of each row
    shift: FloatArray  # r_k g_a (wealth relative to the type's low compliant gain)
    exponent: FloatArray  # |r_k| (|g_a| + |g_i| + F_a + F_i): what the logs' round-off scales with
    linear: FloatArray  # (g_a - g_i, F_a, F_i, m) per row (4 x T): r = 0 rows are built from these


def _log_abs(x: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(np.abs(x)))


def pair_logs(data: StrategicArrays, pairs: np.ndarray) -> PairLogs:
    """The log-space terms of the rows ``pairs`` ((k, a, i) triples), each times
    |r| e^{r g_a} (module doc). The sizes, for relative violations:
    |u(g_a)| -> |expm1(r g_a)|, |u(g_a - F_a)| -> e^{r F_a} |expm1(r (g_a - F_a))|,
    |u(g_i)| -> e^{r (g_a - g_i)} |expm1(r g_i)| and
    |u(g_i - F_i)| -> e^{r (g_a - g_i + F_i)} |expm1(r (g_i - F_i))|."""
    base = data.base
    c = base.compliant
    k, a, i = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    penalty = base.penalty_cap.astype(float).copy()
    penalty[c] = base.false_positive_penalty
    reference = data.gain_low[:, c][k]
    g_a = data.gain_low[k, a] - reference
    g_i = data.gain_high[k, i] - reference
    f_a, f_i = penalty[a], penalty[i]
    r = data.risk_aversion[k].astype(float)
    cara = r != 0
    rr = np.where(cara, r, 1.0)  # placeholder where r = 0 (its logs come from the linear form)
    gap = g_a - g_i
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        margin_log = np.where(
            cara,
            _log_abs(np.abs(r) * base.margin) + r * data.gain_low[k, a],
            _log_abs(np.full(r.shape, base.margin)),
        )
        margin_log = np.where(base.margin > 0, margin_log, -np.inf)

        def pick(log_cara: FloatArray, linear: FloatArray) -> FloatArray:
            return np.asarray(np.where(cara, log_cara, _log_abs(linear)))

        def loss(log_cara: FloatArray, f: FloatArray) -> FloatArray:
            return np.asarray(np.where(f > 0, pick(log_cara, f), -np.inf))

        return PairLogs(
            sign=np.sign(gap),
            difference=pick(log_abs_expm1(rr * gap), gap),
            own=loss(log_abs_expm1(rr * f_a), f_a),
            other=loss(rr * gap + log_abs_expm1(rr * f_i), f_i),
            margin=np.asarray(margin_log),
            free_own=pick(log_abs_expm1(rr * g_a), g_a),
            caught_own=pick(rr * f_a + log_abs_expm1(rr * (g_a - f_a)), g_a - f_a),
            free_other=pick(rr * gap + log_abs_expm1(rr * g_i), g_i),
            caught_other=pick(rr * (gap + f_i) + log_abs_expm1(rr * (g_i - f_i)), g_i - f_i),
            r=r,
            shift=np.where(cara, r * g_a, 0.0),
            exponent=np.abs(r) * (np.abs(g_a) + np.abs(g_i) + f_a + f_i),
            linear=np.vstack([gap, f_a, f_i, np.full(gap.shape, base.margin)]),
        )


def _top(*logs: FloatArray) -> FloatArray:
    top = np.max(np.vstack(np.broadcast_arrays(*logs)), axis=0)
    return np.asarray(np.where(np.isfinite(top), top, 0.0))


@dataclass(frozen=True)
class ScaledRows:
    """Row t as  own_t P_a + other_t P_i + constant_t >= 0, the model's row (in type k's
    utility units, wealth relative to its low compliant gain) divided by ``log_row_factor``."""

    own: FloatArray  # <= 0: -D_a
    other: FloatArray  # >= 0: D_i
    constant: FloatArray  # u(g_a) - u(g_i) - m_k
    log_scale: FloatArray


def scaled_rows(logs: PairLogs) -> ScaledRows:
    """The rows divided by their largest term (each number in [-2, 1]); a risk-neutral row
    by plain division (g_a - g_i - m, -F_a and F_i over the largest), correctly rounded."""
    top = _top(logs.difference, logs.own, logs.other, logs.margin)
    with np.errstate(over="ignore", invalid="ignore"):
        constant = logs.sign * np.exp(logs.difference - top) - np.exp(logs.margin - top)
        own = -np.exp(logs.own - top)
        other = np.exp(logs.other - top)
    constant = np.where(np.isnan(constant), 0.0, constant)
    neutral = logs.r == 0
    if np.any(neutral):
        gap, f_a, f_i, margin = logs.linear
        largest = np.max(np.abs(logs.linear), axis=0)
        largest = np.where(largest > 0, largest, 1.0)
        constant = np.where(neutral, (gap - margin) / largest, constant)
        own = np.where(neutral, -f_a / largest, own)
        other = np.where(neutral, f_i / largest, other)
        top = np.where(neutral, np.log(largest), top)
    # A coefficient below 1e-250 of the row's largest term moves the row by less than its
    # round-off on [0, 1] (the certificates lower their bounds by more): it is 0, so no
    # solver or scaling divides by a subnormal.
    own = np.where(np.abs(own) < NEGLIGIBLE, 0.0, own)
    other = np.where(np.abs(other) < NEGLIGIBLE, 0.0, other)
    return ScaledRows(np.asarray(own), np.asarray(other), np.asarray(constant), np.asarray(top))


def log_row_factor(logs: PairLogs, log_scale: FloatArray) -> FloatArray:
    """log of the positive factor that turns a scaled row back into utility units
    (e^{log_scale} / (|r| e^{r g_a}); e^{log_scale} for r = 0)."""
    with np.errstate(divide="ignore"):
        cara = logs.r != 0
        log_r = np.where(cara, np.log(np.where(cara, np.abs(logs.r), 1.0)), 0.0)
        return np.asarray(log_scale - log_r - logs.shift)


def row_values(
    logs: PairLogs, own_detection: FloatArray, other_detection: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(value, size, D_a, D_i) of CARA rows at detection P, times |r| e^{r g_a} e^{-top}.

    value = EU_i - EU_a + m from the expected utilities themselves, EU_j = (1 - A_j) / r with
    A_j = (1 - P_j) e^{-r g_j} + P_j e^{-r (g_j - F_j)} a log-sum-exp of positive terms:

        |r| e^{r g_a} (EU_i - EU_a + m) = s (A'_a - A'_i) + |r| m e^{r g_a},   s = sign(r),
        A'_a = (1 - P_a) + P_a e^{r F_a},   A'_i = e^{r (g_a - g_i)} ((1 - P_i) + P_i e^{r F_i}),

    so nothing cancels but what the model compares (at P = 1 the free outcome, e^2500 times
    the caught one, is gone, not subtracted); size = A'_a + A'_i + |r| m e^{r g_a} and top
    the log of its largest term, as ``stable.incentive_violation`` holds the untyped rows."""
    p_a = np.clip(np.asarray(own_detection, dtype=float), 0.0, 1.0)
    p_i = np.clip(np.asarray(other_detection, dtype=float), 0.0, 1.0)
    r = np.where(logs.r != 0, logs.r, 1.0)
    gap, f_a, f_i, _ = logs.linear
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_a = np.logaddexp(np.log1p(-p_a), np.log(p_a) + r * f_a)
        log_i = r * gap + np.logaddexp(np.log1p(-p_i), np.log(p_i) + r * f_i)
        top = _top(log_a, log_i, logs.margin)
        term_a, term_i = np.exp(log_a - top), np.exp(log_i - top)
        margin = np.exp(logs.margin - top)
        value = np.sign(r) * (term_a - term_i) + margin
        size = term_a + term_i + margin
        own, other = np.exp(logs.own - top), np.exp(logs.other - top)
    return np.asarray(value), np.asarray(size), np.asarray(own), np.asarray(other)


@dataclass(frozen=True)
class RowValues:
    """Rows at a policy, each divided by one positive number of its own."""

    value: FloatArray  # EU^hi_ki - EU^lo_ka + m_k: > 0 where i pays more by the margin
    size: FloatArray  # the size of the row's terms (value / size: its relative violation)
    own: FloatArray  # D_a: d value / d P_a
    other: FloatArray  # D_i: -d value / d P_i


def pair_values(
    data: StrategicArrays,
    pairs: np.ndarray,
    detection: FloatArray,
    other_detection: FloatArray | None = None,
) -> RowValues:
    """Rows ``pairs`` at detection P (``type_detection``), P_i of each row's other action
    replaced by ``other_detection`` if given. CARA rows in log space (``row_values``);
    risk-neutral rows directly, in money."""
    if not len(pairs):
        empty = np.zeros(0)
        return RowValues(empty, empty, empty, empty)
    base = data.base
    c = base.compliant
    k, a, i = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    p = np.clip(np.asarray(detection, dtype=float), 0.0, 1.0)
    logs = pair_logs(data, pairs)
    penalty = base.penalty_cap.astype(float).copy()
    penalty[c] = base.false_positive_penalty
    reference = data.gain_low[:, c][k]
    low = data.gain_low[k, a] - reference
    high = data.gain_high[k, i] - reference
    p_a, p_i = p[a], p[i]
    if other_detection is not None:
        p_i = np.clip(np.broadcast_to(np.asarray(other_detection, dtype=float), p_i.shape), 0, 1)
    r = logs.r
    # Within DIRECT_LIMIT (|r| x the numbers <= 30), the utilities themselves, as for a
    # risk-neutral type (wealth relative to the low compliant gain, the margin times
    # e^{r g_ref}); beyond it, log space (``row_values``).
    direct = logs.exponent <= DIRECT_LIMIT
    with np.errstate(over="ignore", invalid="ignore"):
        u_low, u_high = _utility(low, r), _utility(high, r)
        u_low_caught = _utility(low - penalty[a], r)
        u_high_caught = _utility(high - penalty[i], r)
        margin = base.margin * np.where(r != 0, np.exp(r * reference), 1.0) if base.margin else 0.0
        direct_value = (
            (1 - p_i) * u_high
            + p_i * u_high_caught
            - ((1 - p_a) * u_low + p_a * u_low_caught)
            + margin
        )
        direct_size = (
            (1 - p_a) * np.abs(u_low)
            + p_a * np.abs(u_low_caught)
            + (1 - p_i) * np.abs(u_high)
            + p_i * np.abs(u_high_caught)
            + np.abs(margin)
        )
        own_direct, other_direct = u_low - u_low_caught, u_high - u_high_caught
    value, size, own, other = row_values(logs, p_a, p_i)
    return RowValues(
        np.asarray(np.where(direct, direct_value, value)),
        np.asarray(np.where(direct, direct_size, size)),
        np.asarray(np.where(direct, own_direct, own)),
        np.asarray(np.where(direct, other_direct, other)),
    )


def _utility(wealth: FloatArray, r: FloatArray) -> FloatArray:
    """u(w) per row (r = 0: w), overflow left to the caller's errstate."""
    safe = np.where(r != 0, r, 1.0)
    return np.asarray(np.where(r != 0, -np.expm1(-safe * wealth) / safe, wealth))


def all_pairs(n_types: int, n_actions: int, assignment: Sequence[int] | None) -> np.ndarray:
    """(k, a, i) triples: for each type its assigned a (or every a), and every i != a."""
    triples = []
    for k in range(n_types):
        candidates = range(n_actions) if assignment is None else (assignment[k],)
        for a in candidates:
            triples += [(k, a, i) for i in range(n_actions) if i != a]
    return np.array(triples, dtype=int).reshape(-1, 3)
