"""Repairing a solved policy whose incentive rows hold only to round-off (issue 12).

A solver meets a binding row only to its tolerance, and float64 evaluates it only to
round-off; verification (``verify.py``) accepts a row only when it holds exactly. Rounding
every rate outward by the same factor (``core.outward``) closes rows that pay (k_i > 0);
it opens rows that bind *because* of false flags (a non-paying action, k_i < 0, kept at bay
only while the compliant agent's false-flag penalty stays small), where raising every rate
raises the false flags more than the detection. So when no rounding passes, the rates are
moved by the least-cost step Delta that gives every row near binding a little room:

    minimise    c . Delta
    subject to  w_i Q_i Delta - v_i f' Delta >= 2 max(0, -s_i) + tau_i    (near-binding rows)
                -v_i f' Delta >= 1-side of the same row at P_i = 1          (when v_i f' > 0)
                lo - x <= Delta <= hi - x,      c . Delta <= budget - c . x

in the program's normalised rows w_i P_i - v_i P_0 >= n_i (``stable.stable_incentive_rows``:
n_i = k_i / d_i, v_i = d_0 / d_i), where s_i is the row's slack at x, f' the gradient of
P_0 and Q_i that of P_i (exponential detection: linearised, which overstates P_i's rise and
P_0's by at most the step squared, far below tau). tau_i is a relative room of 1e-12 of the
row's terms, then 1e-10 and 1e-8 if verification still refuses; each step costs about tau
relative, far below the 1e-6 the cost is trusted to. Every repaired policy goes through the
same exact verification as any other, and a repair that fails it is not an answer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..formulation.linear import solve_linear
from ..model.arrays import ProblemArrays, largest_magnitudes
from ..model.detection import detection_probability, false_flag_rate, log_escape
from ..model.envelope import randomised_detection
from ..model.exact import ExactPolicy
from ..model.stable import stable_incentive_rows
from ..model.utility import FloatArray

EPS = float(np.finfo(float).eps)
#: The relative room given to each near-binding row, tried in turn.
ROOMS = (1e-12, 1e-10, 1e-8)
#: Rows with more relative slack than this are left out of the repair (they cannot bind
#: after a step of the rooms' size).
NEAR = 1e-6
#: The largest shortfall repaired, relative to the row's terms (a solver's tolerance); a row
#: short by more (and by more than SOLVER_SHORTFALL) is a wrong answer, left for the next
#: attempt.
REPAIRABLE = 1e-6
#: The largest shortfall repaired in the program's own units (probabilities, at most 1),
#: whatever its size relative to the row's terms: the solvers' absolute feasibility
#: tolerance (HiGHS's default, 1e-7). A CARA agent whose caught loss is 1e16 times its gain
#: needs a detection of 1e-17, which a solver meets with a rate of 0; the least step
#: closes it (issue 20: otherwise every attempt is refused and the spec ends in refinement).
SOLVER_SHORTFALL = 1e-7
#: The largest step, relative to the rates (and the largest rate): 100 times what the rows
#: need, never more than this.
TRUST = 1e-4


def repairs(
    arrays: ProblemArrays, rates: FloatArray, penalties: FloatArray | None = None
) -> Iterator[FloatArray]:
    """Repaired policies, least room first (nothing when there is nothing to repair: no
    row near binding, a row short by more than round-off, or no step)."""
    x = np.asarray(rates, dtype=float)
    if not np.all(np.isfinite(x)) or arrays.n_monitors == 0:
        return
    with np.errstate(all="ignore"):  # rows beyond float range are left out
        rows = near_rows(arrays, x, penalties)
    if rows is None:
        return
    # Monitors described by ROC curves keep their rates (their detection is piecewise).
    fixed = np.zeros(arrays.n_monitors, dtype=bool)
    for curve in arrays.roc:
        fixed[curve.monitor] = True
    for room in ROOMS:
        delta = least_step(arrays, x, rows, room, fixed)
        if delta is not None:
            yield np.clip(x + delta, arrays.min_rate, arrays.max_rate)


def near_rows(arrays: ProblemArrays, x: FloatArray, penalties: FloatArray | None) -> Rows | None:
    """The normalised rows within NEAR of binding at ``x`` (None: none, or one short by
    more than REPAIRABLE)."""
    dev = arrays.deviations
    cap = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
    g0 = float(arrays.gain[arrays.compliant])
    need, flag, weight = stable_incentive_rows(
        arrays.gain[dev] - g0,
        cap[dev],
        arrays.false_positive_penalty,
        arrays.risk_aversion,
        arrays.margin,
        g0,
    )
    detection = detection_probability(arrays, x)[dev]
    if arrays.detection_model == "exponential":
        reach = detection
        gradient = sp.diags(1.0 - detection) @ sp.csr_matrix(log_escape(arrays.detection))[dev]
        p0 = false_flag_rate(arrays, x)
        phi = np.asarray(log_escape(arrays.false_positive), dtype=float)
        flag_gradient = (1.0 - p0) * phi
    else:
        reach = np.asarray(arrays.detection @ x, dtype=float)
        for curve in arrays.roc:  # their monitors are held fixed
            reach[curve.action] += randomised_detection(curve.points, float(x[curve.monitor]))
        reach = reach[dev]
        gradient = sp.csr_matrix(arrays.detection)[dev]
        p0 = float(arrays.false_positive @ x)
        flag_gradient = np.asarray(arrays.false_positive, dtype=float)
    ff = flag * p0
    terms = np.abs(need) + weight * np.minimum(reach, 1.0) + ff
    slack = weight * np.minimum(reach, 1.0) - ff - need
    near = np.flatnonzero((slack <= NEAR * terms) & np.isfinite(slack) & np.isfinite(terms))
    repairable = np.maximum(REPAIRABLE * terms[near], SOLVER_SHORTFALL)
    if near.size == 0 or np.any(slack[near] < -repairable):
        return None
    return Rows(
        weight=weight[near],
        flag=flag[near],
        need=need[near],
        reach=reach[near],
        p0=p0,
        terms=terms[near],
        gradient=sp.csr_matrix(gradient)[near],
        flag_gradient=flag_gradient,
    )


@dataclass(frozen=True)
class Rows:
    """The near-binding rows w P - v P_0 >= n at the current policy, with their gradients."""

    weight: FloatArray  # w_i: 1, or 0 for an action without a penalty
    flag: FloatArray  # v_i = d_0 / d_i
    need: FloatArray  # n_i = k_i / d_i
    reach: FloatArray  # Q_i x (uncapped), or P_i under exponential detection
    p0: float
    terms: FloatArray  # |n_i| + w_i min(1, reach) + v_i P_0
    gradient: sp.csr_matrix  # d reach / dx
    flag_gradient: FloatArray  # d P_0 / dx


def _room(slack: FloatArray, tau: FloatArray) -> FloatArray:
    """What a row's left side must gain: tau less the slack it has, and a millionth more
    where it falls short (the step's program meets its rows only to its tolerance, 1e-10
    of the largest of these)."""
    need = tau - slack
    return np.where(need > 0, need * (1.0 + 1e-6), need)


def least_step(
    arrays: ProblemArrays, x: FloatArray, rows: Rows, room: float, fixed: np.ndarray
) -> FloatArray | None:
    """The least-cost step giving each near-binding row ``room`` of its terms (or None)."""
    tau = room * rows.terms
    flags = sp.csr_matrix(np.outer(rows.flag, rows.flag_gradient))
    ff = rows.flag * rows.p0
    # P_i = Q_i x below 1, and P_i = 1 (where false flags can still break the row): the
    # hypograph of min(1, .), both rows exact.
    blocks = [sp.diags(rows.weight) @ rows.gradient - flags]
    rhs = [_room(rows.weight * rows.reach - ff - rows.need, tau)]
    capped = np.flatnonzero((rows.weight > 0) & (rows.flag > 0))
    if capped.size and np.any(rows.flag_gradient > 0):
        blocks.append(-flags[capped])
        rhs.append(_room(rows.weight[capped] - ff[capped] - rows.need[capped], tau[capped]))
    matrix = sp.vstack(blocks).tocsr()
    b = np.concatenate(rhs)
    sizes = np.concatenate([rows.terms, rows.terms[capped]])[: b.size]
    with np.errstate(divide="ignore", invalid="ignore"):
        shortest = float(np.nanmax(np.where(sizes > 0, b / sizes, 0.0), initial=0.0))
    unit = float(np.max(b, initial=0.0))
    if not np.isfinite(unit):
        return None
    if unit <= 0:
        return np.zeros_like(x)  # every row has its room already
    # The step in units of ``unit``, each row divided by its largest coefficient.
    size = largest_magnitudes(matrix, axis=1)
    size = np.where(size > 0, size, 1.0)
    matrix = sp.diags(1.0 / size) @ matrix
    with np.errstate(over="ignore"):  # a step beyond float range is no step
        b = b / unit / size
    if not np.all(np.isfinite(b)):
        return None
    # A trust region: the rows left out (slack above NEAR) stay out of reach of the step.
    # (At rates all 0, the step a solver's tolerance can leave, SOLVER_SHORTFALL.)
    largest = max(float(np.max(x, initial=0.0)), SOLVER_SHORTFALL)
    radius = min(TRUST, 100.0 * (shortest + room)) * (x + largest)
    low = np.where(fixed, 0.0, np.maximum(arrays.min_rate - x, -radius) / unit)
    high = np.where(fixed, 0.0, np.minimum(arrays.max_rate - x, radius) / unit)
    cost_scale = float(np.max(np.abs(arrays.cost), initial=0.0)) or 1.0
    a_ub = -matrix
    b_ub = -b
    if arrays.budget is not None:
        spent = float(arrays.cost @ x)
        left = arrays.budget - spent - 4 * EPS * (abs(arrays.budget) + abs(spent))
        a_ub = sp.vstack([a_ub, sp.csr_matrix(arrays.cost / cost_scale)]).tocsr()
        b_ub = np.append(b_ub, left / unit / cost_scale)
    with np.errstate(all="ignore"):
        result = solve_linear(
            arrays.cost / cost_scale,
            a_ub,
            b_ub,
            bounds=np.column_stack([low, high]),
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
    if not result.optimal or result.x is None or not np.all(np.isfinite(result.x)):
        return None
    return np.asarray(result.x, dtype=float) * unit


#: Rows and bounds within this relative slack of binding at the solver's point are taken as
#: the vertex's active set (a solver meets them to its tolerance, about 1e-9).
ACTIVE = 1e-7
#: The most free rates whose binary64 neighbours are enumerated (2^k candidates).
NEIGHBOURS = 10


def exact_vertex(arrays: ProblemArrays, x: FloatArray) -> list[Fraction] | None:
    """The vertex the solver's point ``x`` sits at, solved in exact arithmetic (or None):
    the first of :func:`exact_vertices`."""
    vertices = exact_vertices(arrays, x)
    return vertices[0] if vertices else None


def exact_vertices(arrays: ProblemArrays, x: FloatArray) -> list[list[Fraction]]:
    """The vertices the solver's point ``x`` may sit at, each solved as rationals.

    Linear detection, fixed penalties, no ROC curve. Each incentive row is linear in
    P_i = Q_i x and P_0 = f x (where they stay below 1; a row saturated at P_i = 1 is left
    out): risk neutral, F_i Q_i x - F_fp f x >= g_i - g_0 + m with rational coefficients;
    a CARA agent (docs/model.md, the row times |r| exp(r g_0)),

        s (e^{-r (g - F_i)} - e^{-r g}) Q_i x - s expm1(r F_fp) f x
            >= -s expm1(-r g) + |r| e^{r g_0} m

    (g = g_i - g_0, s = sign r), whose coefficients are transcendental: they are computed
    with mpmath at VERTEX_DIGITS digits and taken as the rationals they round to, so the
    vertex is within 1e-50 of the true one, far inside a binary64 rate's spacing (the
    neighbours enumerated by :func:`vertex_policies` straddle it; an exact tie of
    transcendental numbers with a binary64 rate does not occur for rational data).

    The rows binding at ``x`` (within ACTIVE, or violated: a solver leaves a rate of 1e-13
    at 0 when its need is below its tolerance) and the rate bounds ``x`` sits at (within
    ACTIVE) are the candidate active set; independent ones are taken in turn until they fix
    every rate, rows first (a violated row must bind at the vertex) and then bounds first
    (the solver's own choice where both bind). Either gives a vertex or none; the caller
    checks each exactly against every row and the budget."""
    if (
        arrays.detection_model != "linear"
        or arrays.penalty_design != "fixed"
        or arrays.roc
        or arrays.n_monitors == 0
        or not np.all(np.isfinite(x))
    ):
        return []
    m = arrays.n_monitors
    q = sp.csr_matrix(arrays.detection).toarray()
    f = np.asarray(arrays.false_positive, dtype=float)
    if float(f @ x) >= 1.0:
        return []
    reach = q @ x
    exact_x = [Fraction(float(v)) for v in x]
    rows: list[tuple[Fraction, list[Fraction], Fraction]] = []  # (slack, coefficients, need)
    for i in arrays.deviations:
        if reach[i] >= 1.0 - ACTIVE:  # P_i = 1 (saturated): not a linear row there
            continue
        coeffs, need = _row_coefficients(arrays, int(i), q, f)
        terms = [c * v for c, v in zip(coeffs, exact_x, strict=True)]
        value = sum(terms, Fraction(0)) - need
        size = abs(need) + sum((abs(t) for t in terms), Fraction(0))
        if value <= Fraction(ACTIVE) * size:
            rows.append((value / size if size else Fraction(0), coeffs, need))
    rows.sort(key=lambda row: row[0])
    lo, hi = arrays.min_rate, arrays.max_rate
    bounds: list[tuple[list[Fraction], Fraction]] = []
    for j in range(m):
        unit = [Fraction(int(k == j)) for k in range(m)]
        if x[j] <= lo[j] + ACTIVE * max(hi[j], 1e-300):
            bounds.append((unit, Fraction(float(lo[j]))))
        elif x[j] >= hi[j] - ACTIVE * max(hi[j], 1e-300):
            bounds.append((unit, Fraction(float(hi[j]))))
    equations = [(coeffs, need) for _, coeffs, need in rows]
    vertices: list[list[Fraction]] = []
    for order in (equations + bounds, bounds + equations):
        vertex = _solve_exact(order, m)
        if vertex is not None and vertex not in vertices:
            vertices.append(vertex)
    return vertices


#: mpmath's digits for a CARA row's coefficients at the vertex (exact_vertices).
VERTEX_DIGITS = 60


def _row_coefficients(
    arrays: ProblemArrays, i: int, q: np.ndarray, f: FloatArray
) -> tuple[list[Fraction], Fraction]:
    """Action ``i``'s incentive row a . x >= b over the rates (exact_vertices' docstring)."""
    fr = Fraction
    g = fr(float(arrays.gain[i])) - fr(float(arrays.gain[arrays.compliant]))
    cap = fr(float(arrays.penalty_cap[i]))
    flag = fr(float(arrays.false_positive_penalty))
    margin = fr(float(arrays.margin))
    m = q.shape[1]
    if arrays.risk_aversion == 0:
        coeffs = [cap * fr(float(q[i, j])) - flag * fr(float(f[j])) for j in range(m)]
        return coeffs, g + margin
    import mpmath

    with mpmath.workdps(VERTEX_DIGITS):

        def mp(value: Fraction) -> Any:
            return mpmath.mpf(value.numerator) / value.denominator

        r = mp(fr(float(arrays.risk_aversion)))
        s = 1 if arrays.risk_aversion > 0 else -1
        caught = s * (mpmath.exp(-r * mp(g - cap)) - mpmath.exp(-r * mp(g)))
        flagged = s * mpmath.expm1(r * mp(flag))
        g0 = mp(fr(float(arrays.gain[arrays.compliant])))
        need = -s * mpmath.expm1(-r * mp(g)) + abs(r) * mpmath.exp(r * g0) * mp(margin)
        coeffs = [
            _mp_fraction(caught * mp(fr(float(q[i, j]))) - flagged * mp(fr(float(f[j]))))
            for j in range(m)
        ]
        return coeffs, _mp_fraction(need)


def _mp_fraction(value: Any) -> Fraction:
    """An mpmath number as the rational it denotes (sign, mantissa and a power of two)."""
    sign, mantissa, exponent, _ = value._mpf_
    if not mantissa:
        return Fraction(0)
    return (-1 if sign else 1) * Fraction(int(mantissa)) * Fraction(2) ** int(exponent)


def _solve_exact(rows: list[tuple[list[Fraction], Fraction]], n: int) -> list[Fraction] | None:
    """The unique solution of the equations a . z = b (Gauss-Jordan in Fractions), taking
    independent rows in turn and passing over dependent ones; None when they do not fix
    every z."""
    if n == 0:
        return []
    pivots: list[tuple[int, list[Fraction], Fraction]] = []  # (column, row, rhs), reduced
    for a, b in rows:
        a, b = list(a), b
        for col, pa, pb in pivots:
            if a[col]:
                factor = a[col] / pa[col]
                a = [u - factor * v for u, v in zip(a, pa, strict=True)]
                b -= factor * pb
        lead = next((k for k, v in enumerate(a) if v), None)
        if lead is None:
            continue  # dependent on the rows taken (consistent or not: the check judges)
        pivots.append((lead, a, b))
        if len(pivots) == n:
            break
    if len(pivots) < n:
        return None
    # each pivot row is zero in the columns of the pivots before it: solve from the last
    z = [Fraction(0)] * n
    for lead, a, b in reversed(pivots):
        rest = sum((a[k] * z[k] for k in range(n) if k != lead), Fraction(0))
        z[lead] = (b - rest) / a[lead]
    return z


def vertex_policies(arrays: ProblemArrays, x: FloatArray) -> list[FloatArray]:
    """Binary64 policies near each vertex at ``x`` (:func:`exact_vertices`), cheapest first:
    the vertex rounded to nearest, then each free rate at its binary64 neighbour below or
    above the rational (every combination, up to NEIGHBOURS free rates). Verification
    judges each exactly."""
    policies: list[FloatArray] = []
    for vertex in exact_vertices(arrays, x):
        policies += _neighbours(vertex)
    inside = [
        np.asarray(p, dtype=float)
        for p in policies
        if np.all(p >= arrays.min_rate) and np.all(p <= arrays.max_rate)
    ]
    cost = [math.fsum((arrays.cost * p).tolist()) for p in inside]
    return [inside[k] for k in np.argsort(cost, kind="stable")]


def _neighbours(vertex: list[Fraction]) -> list[FloatArray]:
    nearest = np.array([float(v) for v in vertex])
    choices: list[tuple[float, ...]] = []
    for v, near in zip(vertex, nearest, strict=True):
        if Fraction(near) == v:
            choices.append((near,))
        else:
            below = near if Fraction(near) < v else math.nextafter(near, -math.inf)
            choices.append((below, math.nextafter(below, math.inf)))
    if sum(len(c) > 1 for c in choices) > NEIGHBOURS:
        return [nearest]
    return [nearest, *(np.array(p) for p in itertools.product(*choices))]


def rational_only(arrays: ProblemArrays, x: FloatArray) -> str | None:
    """Why no answer is given when the exact vertex at ``x`` meets every row and the budget
    in exact arithmetic but no binary64 policy near it verified (``vertex_policies``), or
    None. Said as ``solver_error`` with this reason: deter reports no policy that fails."""
    # Risk neutral only: a CARA agent's vertex is the rational its rounded coefficients give.
    vertex = exact_vertex(arrays, x) if arrays.risk_aversion == 0 else None
    if vertex is None or arrays.budget is None:
        return None
    lo, hi = arrays.min_rate, arrays.max_rate
    if any(not Fraction(float(lo[j])) <= v <= Fraction(float(hi[j])) for j, v in enumerate(vertex)):
        return None
    prices = [Fraction(float(c)) for c in arrays.cost]
    spent = sum((c * v for c, v in zip(prices, vertex, strict=True)), Fraction(0))
    if spent > Fraction(float(arrays.budget)):
        return None
    policy = ExactPolicy(arrays, np.zeros(arrays.n_monitors))
    policy.rates = list(vertex)
    if not all(policy.decide(int(i)).deterred for i in arrays.deviations):
        return None
    rates = ", ".join(
        f"{name} = {_rational(v)}" for name, v in zip(arrays.monitor_names, vertex, strict=True)
    )
    return (
        "the least-cost policy is feasible only in exact arithmetic: no binary64 rates meet "
        f"both the budget and the incentive rows; the exact policy is {rates} "
        f"(cost {float(spent):.17g}, budget {arrays.budget!r})"
    )


def _rational(value: Fraction) -> str:
    """A rational for a message: p/q when short, else its value and its size."""
    text = str(value)
    if len(text) <= 40:
        return text
    return f"{float(value):.17g} (a rational of {len(str(value.denominator))} digits)"
