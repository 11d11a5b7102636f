"""A certificate of infeasibility, checked in the model's units (issue 12).

A solver's "infeasible" is a claim made at its own tolerances, often in rescaled units; deter
declares a spec infeasible only when this module proves it in the user's problem.

**The system.** In the rates x (and, for ROC monitors, one variable t per curve: the
detection its envelope gives), every deterrence row that some allowed policy could violate
is written as linear inequalities a_r z >= b_r over a box lo <= z <= hi, such that every
policy the model accepts yields a point z of the box meeting all of them (the system is the
model itself, or a relaxation of it, never a restriction):

* linear detection (docs/model.md), row i divided by d_i as the program holds it,
  P_i - w_i P_0 >= n_i with P_i <= min(1, Q_i x + sum_c t_c): the two rows
  Q_i x + sum_c t_c - w_i f x >= n_i and -w_i f x >= n_i - 1;
* a ROC curve's envelope h(x_j) = min_k (s_k x_j + b_k): s_k x_j - t_c >= -b_k for every
  segment, t_c in [0, 1] (h maps [0, 1] into [0, 1]);
* exponential detection: P_i >= n_i + w_i P_0 >= n_i, i.e. L_i x >= -ln(1 - n_i)
  (exact without false flags, a relaxation with them); with false flags also the model's
  row 1 - e^{-L_i x} - w_i u >= n_i, u standing for P_0 = 1 - e^{-phi x}, tied to x by
  the secant of P_0 on a box of s = phi x (:func:`on_box`, below P_0: a relaxation), the
  boxes halved until each has a certificate (:func:`_by_boxes`); the concave row enters
  through its tangents (:func:`with_tangents`, each a relaxation), added at the
  relaxation's deepest point until the multipliers prove it (Kelley's cutting planes) or
  that point meets the row;
* a penalty design is relaxed to its ceilings (``model.penalties.at_ceilings``: each action's
  own cap, or for a shared level the smallest cap, the most any allowed level reaches; a
  larger penalty only helps, so P_i F_i >= k_i implies P_i ceiling_i >= k_i); P_0 = f x
  where f x <= 1 over the box (it agrees with min(1, f x) there), else f x / R with
  R >= f x_max (min(1, s) >= s / R on [0, R], a relaxation);
* the budget: -c x >= -B.

**The certificate** (Farkas' lemma with the box kept explicit; e.g. Bertsimas & Tsitsiklis,
*Introduction to Linear Optimization*, 1997, section 4.6; Schrijver, *Theory of Linear and
Integer Programming*, 1986, section 7.3): multipliers y >= 0 with

    sum_r y_r b_r  >  max over the box of (sum_r y_r a_r) z
                   =  sum_j max(g_j lo_j, g_j hi_j),        g = A'y.

Every feasible z would give sum_r y_r a_r z >= sum_r y_r b_r, so there is none. y is found by
a small LP (scipy's HiGHS, in units chosen from the data as the rescaled program's), or is a
single row (an action the most monitoring allowed cannot deter; floors over the budget), and
then checked in exact rational arithmetic, at the worst coefficients within :data:`ROOM`
(relative) of the float64 ones (room for their rounding). A spec whose infeasibility is
within that room of feasible gets no certificate (deter then says ``solver_error``, not a
claim it cannot prove). With the budget row weighted y_B > 0, B + margin / y_B is a certified
lower bound on the least cost of full deterrence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache, cached_property, partial
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..formulation.components.deterrence import Deterrence, can_bind
from ..formulation.linear import solve_linear
from ..formulation.scaling import detection_units, rate_units
from ..model.arrays import ProblemArrays, largest_magnitudes
from ..model.detection import log_escape
from ..model.pair_rows import all_pairs, pair_logs, scaled_rows
from ..model.penalties import at_ceilings
from ..model.stable import need_headroom
from ..model.types import StrategicArrays
from ..model.utility import FloatArray

#: How far (relative) each coefficient of the rows may be from the model's exact number: the
#: certificate must hold for every coefficient that far off (needs and weights are computed
#: in float64, about 1e-15 relative, 1e-13 for CARA numbers near exp's range).
ROOM = 1e-9
#: Rows of a multiplier below this fraction of the largest are dropped before the exact check.
NEGLIGIBLE = 1e-14
#: Float64's unit round-off.
EPS = float(np.finfo(float).eps)
#: The label of the row u >= phi x (exponential detection's bound on P_0).
FLAGS = "false flags"


@dataclass(frozen=True)
class Curved:
    """The program's rows of exponential detection with false flags, concave in x:
    1 - exp(-L_i x) - w_i u >= n_i, with u = phi x the program's bound on P_0 (column
    ``flag_column`` of the system, held by the row u - phi x >= 0). They enter the system
    through their tangents (:func:`tangent_rows`)."""

    intensity: sp.csr_matrix  # L_i, one row per action, over the monitors
    weight: FloatArray  # w_i
    need: FloatArray  # n_i
    flag_intensity: FloatArray  # phi
    labels: tuple[str, ...]
    flag_column: int


@dataclass(frozen=True)
class System:
    """a_r z >= b_r for every row r, lo <= z <= hi; ``labels`` say what each row is.

    a_r is the sum of ``exact`` (numbers of the spec itself: detections, costs) and
    ``rounded`` (numbers computed in float64: false-flag weights, log-escape intensities,
    ROC segments), kept apart so that only the rounded ones get room in :func:`check`;
    ``bound_rounded`` says which b_r are computed (needs) rather than given (the budget)."""

    exact: sp.csr_matrix
    rounded: sp.csr_matrix
    bound: FloatArray
    bound_rounded: np.ndarray
    lower: FloatArray
    upper: FloatArray
    # a column unit for solving (the rate a monitor alone needs), 1 for t: computed when an
    # LP needs it (a stack's proof only checks given multipliers), once for a system and
    # the systems made from it
    unit_of: Callable[[], FloatArray]
    labels: tuple[str, ...]
    budget_row: int | None
    curved: Curved | None = None  # exponential detection with false flags (tangent rows)

    @cached_property
    def unit(self) -> FloatArray:
        return np.asarray(self.unit_of(), dtype=float)

    @property
    def matrix(self) -> sp.csr_matrix:
        """The rows as one matrix, in float64 (for solving; :func:`check` keeps the parts)."""
        return sp.csr_matrix(self.exact + self.rounded)


@dataclass(frozen=True)
class Certificate:
    """Multipliers that prove infeasibility, and what they prove."""

    rows: tuple[tuple[str, float], ...]  # (row label, multiplier), the rows used
    margin: float  # sum y b - max over the box of (A'y) z, > ROOM of the terms
    least_cost_bound: float | None  # a certified lower bound on the cost (budget rows)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(label for label, _ in self.rows if label not in ("budget", FLAGS))
        )

    def describe(self) -> str:
        if len(self.rows) == 1:
            label = self.rows[0][0]
            if label == "budget":
                return "the rate floors alone cost more than the budget"
            return f"no allowed policy deters {label}"
        return "a combination of " + ", ".join(
            f"{label} ({weight:.3g})" for label, weight in self.rows
        )


class _Triplets:
    """Rows gathered as COO triplets, block by block, and made into one csr matrix at the
    end: a system costs a few numpy calls, not a scipy constructor per block (a batch
    proves each infeasible member of a stack with one; issue 24)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.count = 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    def add(self, start: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Entries at rows ``start + rows`` (block-relative rows)."""
        if len(values):
            self.rows.append(np.asarray(rows, dtype=np.int64) + start)
            self.cols.append(np.asarray(cols, dtype=np.int64))
            self.values.append(np.asarray(values, dtype=float))

    def matrix(self, count: int) -> sp.csr_matrix:
        """The csr matrix scipy makes of the triplets (entries sorted by row, then column),
        assembled here: scipy's constructor from coordinates costs most of a system."""
        shape = (count, self.width)
        if not self.values:
            return sp.csr_matrix(shape)
        rows, cols = np.concatenate(self.rows), np.concatenate(self.cols)
        values = np.concatenate(self.values)
        order = np.lexsort((cols, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        if np.any((np.diff(rows) == 0) & (np.diff(cols) == 0)):
            return sp.csr_matrix((values, (rows, cols)), shape=shape)  # repeats: summed
        kind = np.int32 if max(count, self.width, len(values)) < 2**31 - 1 else np.int64
        indptr = np.zeros(count + 1, dtype=kind)
        np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
        return sp.csr_matrix((values, cols.astype(kind), indptr), shape=shape)


def _entries(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, value) of each stored entry of ``matrix``."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return rows, np.asarray(matrix.indices), np.asarray(matrix.data, dtype=float)


def build_system(arrays: ProblemArrays) -> System:
    """The rows of the module docstring, for the spec's own numbers (built by blocks, as
    COO triplets: one csr matrix at the end).

    A penalty design is first relaxed to its ceilings (``at_ceilings``: a shared level at the
    smallest cap), never to each action's own cap, which a shared level cannot reach."""
    arrays = at_ceilings(arrays)
    values = Deterrence().values(arrays)
    dev = arrays.deviations
    need = np.broadcast_to(np.asarray(values["need"], dtype=float), dev.shape)
    flag = np.broadcast_to(np.asarray(values["false_flag_weight"], dtype=float), dev.shape)
    weight = np.broadcast_to(np.asarray(values["detection_weight"], dtype=float), dev.shape)
    m = arrays.n_monitors
    curves = arrays.roc if arrays.detection_model == "linear" else ()
    exponential = arrays.detection_model == "exponential"
    phi = np.asarray(log_escape(arrays.false_positive), dtype=float) if exponential else None
    # exponential detection with false flags: the program's concave rows, by tangents, with
    # one more column u >= phi x (the program's bound on P_0)
    curved = phi is not None and bool(np.any(phi > 0)) and bool(np.any(flag > 0))
    width = m + len(curves) + int(curved)
    f = np.asarray(arrays.false_positive, dtype=float)
    if arrays.detection_model != "linear":
        f = np.zeros(m)  # P_0 >= 0: the false-flag term dropped (a relaxation)
    else:
        # P_0 = min(1, f x); where f x can exceed 1 (R = f x_max > 1), its secant on [0, R]
        # lies below it: min(1, s) >= s / R (concave, equal at 0 and R), with R rounded up
        most = math.fsum((f * arrays.max_rate).tolist())
        if most > 1.0:
            f = f / (most * (1 + 4 * EPS) + math.ulp(most))
    flagged = np.flatnonzero(f)  # the columns of the row f x
    # a row that cannot bind, or numbers beyond range, is left out (sound: fewer rows)
    kept = can_bind(arrays) & np.isfinite(need) & np.isfinite(flag)
    exact, rounded = _Triplets(width), _Triplets(width)
    bounds: list[FloatArray] = []
    owners: list[np.ndarray] = []  # deviation index (into dev) of each row
    count = 0

    def block(rows: np.ndarray, bound: Any) -> int:
        """Room for one row per entry of ``rows``: the block's first row."""
        nonlocal count
        first = count
        count += len(rows)
        bounds.append(np.asarray(bound, dtype=float))
        owners.append(rows)
        return first

    def minus_flags(first: int, rows: np.ndarray) -> None:
        """-w_i f x in each row of the block (its false-flag term, a computed number)."""
        weights = flag[rows]
        some = np.flatnonzero(weights)
        products = -(weights[some][:, None] * f[flagged][None, :])
        rounded.add(
            first, np.repeat(some, len(flagged)), np.tile(flagged, len(some)), products.ravel()
        )

    silent = np.flatnonzero(kept & (weight == 0))  # no detection weight: -w P_0 >= n
    if silent.size:
        minus_flags(block(silent, need[silent]), silent)
    active = np.flatnonzero(kept & (weight > 0))
    # the detections of the active rows, as triplets (row k of ``active``)
    where = np.full(arrays.n_actions, -1, dtype=np.int64)
    where[dev[active]] = np.arange(len(active))
    detection = arrays.detection
    if not isinstance(detection, sp.csr_matrix):
        detection = sp.csr_matrix(detection)
    rows_of, cols_of, data_of = _entries(detection)
    take = where[rows_of] >= 0
    rows_of, cols_of, data_of = where[rows_of[take]], cols_of[take], data_of[take]
    curved_rows: Curved | None = None
    if exponential:
        data_of = np.asarray(log_escape(data_of), dtype=float)
        finite = np.ones(len(active), dtype=bool)
        finite[rows_of[~np.isfinite(data_of)]] = False
        # a sure catch (q = 1, L infinite) is beyond a linear row: that row is left out
        caught = np.zeros(len(active), dtype=bool)
        caught[finite] = need[active[finite]] < 1
        chosen = active[caught]
        if chosen.size:
            # P_i >= n_i + w_i P_0 >= n_i: L_i x >= -ln(1 - n_i) (with false flags a relaxation)
            first = block(chosen, -np.log1p(-need[chosen]))
            position = np.cumsum(caught) - 1  # each caught row's place in the block
            take = caught[rows_of]
            rounded.add(first, position[rows_of[take]], cols_of[take], data_of[take])
        never = active[finite & ~caught]  # P_i < 1 at every policy: 0 >= 1
        if never.size:
            block(never, np.ones(len(never)))
        if curved and chosen.size:
            take = caught[rows_of]
            intensity = sp.csr_matrix(
                (data_of[take], (position[rows_of[take]], cols_of[take])),
                shape=(len(chosen), arrays.n_monitors),
            )
            curved_rows = Curved(
                intensity=intensity,
                weight=np.asarray(flag[chosen], dtype=float),
                need=np.asarray(need[chosen], dtype=float),
                flag_intensity=np.asarray(phi, dtype=float),
                labels=tuple(arrays.action_names[int(dev[k])] for k in chosen),
                flag_column=m,
            )
    elif active.size:
        place = {int(i): k for k, i in enumerate(dev[active])}
        pick = [(place[c.action], col) for col, c in enumerate(curves) if c.action in place]
        first = block(active, need[active])
        exact.add(first, rows_of, cols_of, data_of)
        if pick:
            exact.add(
                first,
                np.array([r for r, _ in pick]),
                np.array([m + c for _, c in pick]),
                np.ones(len(pick)),
            )
        minus_flags(first, active)
        most = float(f @ arrays.max_rate)
        headroom = _headroom(arrays, need)
        capped = active[flag[active] * most > headroom[active]]  # P_i <= 1 can bind
        if capped.size:
            minus_flags(block(capped, -headroom[capped]), capped)
    labels = [arrays.action_names[int(dev[k])] for rows in owners for k in rows]
    for c, curve in enumerate(curves):
        slope, intercept = curve.segments
        n = len(slope)
        first = count
        count += n
        rounded.add(
            first,
            np.tile(np.arange(n), 2),
            np.repeat([curve.monitor, m + c], n),
            np.concatenate([slope, -np.ones(n)]),
        )
        bounds.append(-np.asarray(intercept, dtype=float))
        labels += [arrays.action_names[curve.action]] * n
    bound_rounded = np.ones(len(labels), dtype=bool)
    lower = np.concatenate([arrays.min_rate, np.zeros(width - m)]).astype(float)
    upper = np.concatenate([arrays.max_rate, np.ones(width - m)]).astype(float)
    if curved_rows is not None and phi is not None:
        # u stands for P_0 = 1 - e^{-phi x}, in [0, 1]; the rows that tie it to x (a secant,
        # below P_0) are added per box of s = phi x (:func:`on_box`)
        upper[m] = 1.0
    budget_row = None
    if arrays.budget is not None:
        budget_row = count
        cost = np.asarray(arrays.cost, dtype=float)
        spent = np.flatnonzero(cost)
        exact.add(count, np.zeros(len(spent)), spent, -cost[spent])
        count += 1
        bounds.append(np.array([-arrays.budget]))
        labels.append("budget")
        bound_rounded = np.append(bound_rounded, False)
    system = System(
        exact=exact.matrix(count),
        rounded=rounded.matrix(count),
        bound=np.concatenate(bounds) if bounds else np.zeros(0),
        bound_rounded=bound_rounded,
        lower=lower,
        upper=upper,
        unit_of=cache(partial(_column_units, arrays, width)),
        labels=tuple(labels),
        budget_row=budget_row,
        curved=curved_rows,
    )
    if curved_rows is None:
        return system
    # first tangents: at the rate floors and ceilings
    return with_tangents(system, [system.lower[:m], system.upper[:m]])


def _headroom(arrays: ProblemArrays, need: FloatArray) -> FloatArray:
    """1 - need per deviation; near 0 from ``stable.need_headroom`` (a CARA need of
    1 - e^{-264} is 1.0 in binary64, and the room it leaves for false flags is not 0)."""
    headroom = 1.0 - need
    close = np.abs(headroom) < 1e-6
    if not (arrays.risk_aversion and np.any(close)):
        return headroom
    dev = arrays.deviations
    stable = need_headroom(
        arrays.gain[dev] - arrays.gain[arrays.compliant],
        arrays.penalty_cap[dev],
        arrays.risk_aversion,
        arrays.margin,
        float(arrays.gain[arrays.compliant]),
    )
    return np.asarray(np.where(close & np.isfinite(stable), stable, headroom))


def _column_units(arrays: ProblemArrays, width: int) -> FloatArray:
    """The rate a monitor alone needs (``rate_units``), 1 for the other columns."""
    units = rate_units(arrays, detection_units(arrays))
    return np.concatenate([units, np.ones(width - arrays.n_monitors)])


def flag_range(system: System) -> tuple[float, float]:
    """Bounds on s = phi x over the box (outward by phi's rounding)."""
    assert system.curved is not None
    phi, m = system.curved.flag_intensity, system.curved.flag_column
    low = math.fsum((phi * system.lower[:m]).tolist())
    high = math.fsum((phi * system.upper[:m]).tolist())
    return max(0.0, low * (1 - ROOM) - math.ulp(low)), high * (1 + ROOM) + math.ulp(high)


def on_box(system: System, start: float, end: float, first: bool, last: bool) -> System:
    """``system`` restricted to the policies with start <= phi x <= end (a row for each end
    that is not the range's own: the boxes of one proof cover every s), with u tied to P_0
    by the secant of g(s) = 1 - e^{-s} on the box, which lies below g there (g is concave):

        u - slope phi x >= intercept,   u in [g(start), g(end)],

    so every policy with s in the box gives u = P_0 meeting the rows (a relaxation). The
    intercept is lowered by its round-off; slope x phi gets ROOM in :func:`check`."""
    curved = system.curved
    assert curved is not None
    width = system.exact.shape[1]
    m = curved.flag_column
    phi = curved.flag_intensity
    if end - start > 0:
        slope = math.exp(-start) * -math.expm1(-(end - start)) / (end - start)
    else:
        slope = math.exp(-start)
    intercept = -math.expm1(-start) - slope * start
    intercept -= 16 * EPS * (1.0 + abs(slope * start) + abs(slope * end))
    rows = [(1.0, -slope * phi, intercept, FLAGS)]
    if not first:
        rows.append((0.0, phi, start, FLAGS))
    if not last:
        rows.append((0.0, -phi, -end, FLAGS))
    exact, rounded = [], []
    for u, coefficients, _, _ in rows:
        exact.append(sp.csr_matrix(([u], ([0], [m])), shape=(1, width)))
        rounded.append(_widen(sp.csr_matrix(np.asarray(coefficients).reshape(1, -1)), width))
    lower, upper = system.lower.copy(), system.upper.copy()
    lower[m] = max(0.0, -math.expm1(-start) * (1 - 1e-12) - EPS)
    upper[m] = min(1.0, -math.expm1(-end) * (1 + 1e-12) + EPS) if not last else 1.0
    return replace(
        system,
        exact=sp.vstack([system.exact, *exact]).tocsr(),
        rounded=sp.vstack([system.rounded, *rounded]).tocsr(),
        bound=np.concatenate([system.bound, [r[2] for r in rows]]),
        bound_rounded=np.concatenate([system.bound_rounded, np.zeros(len(rows), dtype=bool)]),
        labels=system.labels + tuple(r[3] for r in rows),
        lower=lower,
        upper=upper,
    )


def box_relaxation(
    system: System, start: float, end: float, first: bool, last: bool, points: list[FloatArray]
) -> System:
    """The rows of every policy with start <= phi x <= end (:func:`on_box`), with the
    concave rows' tangents at ``points`` (:func:`with_tangents`): a linear relaxation of
    that box, whose certificate drops it and whose :func:`least_cost_bound` bounds it
    (the global search, ``flag_search.py``). Without concave rows, the system itself."""
    if system.curved is None:
        return system
    boxed = on_box(system, start, end, first, last)
    if not last:
        # phi_j x_j <= phi x <= end: x_j <= end / phi_j (phi_j within ROOM of the float64
        # one, hence 4 ROOM): a box near s = 0 holds only small rates, and the room check()
        # gives each computed coefficient is charged at the rates the box allows, not at
        # the ceilings (a least cost of 6e-7 at a rate of 1e-7 against a ceiling of 0.7)
        m, phi = system.curved.flag_column, system.curved.flag_intensity
        upper = boxed.upper.copy()
        with np.errstate(divide="ignore"):
            most = np.where(phi > 0, end / np.where(phi > 0, phi, 1.0) * (1 + 4 * ROOM), np.inf)
        upper[:m] = np.maximum(np.minimum(upper[:m], most), boxed.lower[:m])
        boxed = replace(boxed, upper=upper)
    return with_tangents(boxed, points)


def costing_at_most(system: System, cost: FloatArray, most: float) -> System:
    """``system`` with each priced rate at most ``most / c_j`` (rounded up): c >= 0 and
    x >= 0 give c_j x_j <= c x, so every policy of ``system`` costing at most ``most`` stays
    in it. Its bounds and certificates then hold for those policies only, which is what a
    search needs to close a box against an incumbent (or a budget) of cost ``most``. A
    rate's ceiling is where :func:`check` charges the room of its computed coefficients:
    an audit rate whose ceiling is 1 while the least cost is 3e-6 cost a bound 8e-4 of
    itself (exponential_fp-500045), the same rate capped at 3e-6 / c_j a few 1e-15."""
    m = len(cost)
    c = np.asarray(cost, dtype=float)
    if not (math.isfinite(most) and most >= 0 and np.all(c >= 0)):
        return system
    if not np.all(system.lower[:m] >= 0):
        return system
    upper = system.upper.copy()
    priced = c > 0
    with np.errstate(over="ignore"):
        cap = most / np.where(priced, c, 1.0)
    cap = np.nextafter(cap * (1 + 4 * EPS), np.inf)  # rounded up: never below most / c_j
    upper[:m] = np.where(priced, np.minimum(upper[:m], cap), upper[:m])
    upper[:m] = np.maximum(upper[:m], system.lower[:m])  # an empty range stays a point
    return replace(system, upper=upper)


def _widen(matrix: sp.csr_matrix, width: int) -> sp.csr_matrix:
    """``matrix`` with zero columns appended up to ``width``."""
    if matrix.shape[1] >= width:
        return matrix
    return sp.csr_matrix(
        sp.hstack([matrix, sp.csr_matrix((matrix.shape[0], width - matrix.shape[1]))])
    )


def with_tangents(system: System, points: list[FloatArray]) -> System:
    """``system`` with the tangent rows of its concave rows at each rate vector in
    ``points``.

    For s = L_i x and any real t, 1 - e^{-s} <= 1 - e^{-t} + e^{-t} (s - t) (concavity), so a
    policy meeting 1 - e^{-L_i x} - w_i u >= n_i meets the linear row
    e^{-t} L_i x - w_i u >= n_i - 1 + e^{-t} (1 + t) (a relaxation, at every t). Its
    coefficients are products of float64 numbers (room in :func:`check`); its bound sums
    numbers that may cancel, so it is lowered by a bound on that sum's error (ROOM of n_i,
    which is computed, and 16 ulps of the terms) and given as exact.
    """
    curved = system.curved
    if curved is None or not points:
        return system
    width = system.exact.shape[1]
    m = curved.flag_column
    exact, rounded, bounds, labels = [], [], [], []
    for x in points:
        t = np.asarray(curved.intensity @ np.asarray(x, dtype=float), dtype=float).ravel()
        for k, label in enumerate(curved.labels):
            if not (np.isfinite(t[k]) and t[k] < 700):
                continue
            slope = math.exp(-t[k])
            row = curved.intensity[k]
            data = np.concatenate([slope * row.data, [-curved.weight[k]]])
            cols = np.concatenate([row.indices, [m]])
            rounded.append(
                sp.csr_matrix((data, (np.zeros(len(cols), dtype=int), cols)), shape=(1, width))
            )
            exact.append(sp.csr_matrix((1, width)))
            n, tail = float(curved.need[k]), slope * (1.0 + float(t[k]))
            error = ROOM * abs(n) + 16 * EPS * (abs(n) + 1.0 + tail)
            bounds.append(n - 1.0 + tail - error)
            labels.append(label)
    if not labels:
        return system
    return replace(
        system,
        exact=sp.vstack([system.exact, *exact]).tocsr(),
        rounded=sp.vstack([system.rounded, *rounded]).tocsr(),
        bound=np.concatenate([system.bound, bounds]),
        bound_rounded=np.concatenate([system.bound_rounded, np.zeros(len(labels), dtype=bool)]),
        labels=system.labels + tuple(labels),
    )


def certify_infeasible(arrays: ProblemArrays) -> Certificate | None:
    """A checked certificate that no allowed policy deters every action, or None."""
    sure = caught_still_pays(arrays)
    if sure is not None:
        return sure
    system = build_system(arrays)
    if system.matrix.shape[0] == 0:
        return None
    if system.curved is None:
        return certify_system(system)
    start, end = flag_range(system)
    return _by_boxes(system, start, end)


def caught_still_pays(arrays: ProblemArrays) -> Certificate | None:
    """A closed-form proof: a deviation whose ceiling penalty is below its gain over
    complying, g_i - F_i > g_0 (compared exactly, in Fractions of the binary64 numbers).

    Caught surely it still pays, for any increasing utility (any risk attitude): its expected
    utility is at least u(g_i - F_i) > u(g_0), and complying earns at most u(g_0) (false
    flags only lower it), so no policy deters it by a margin >= 0. The rows cannot show
    this in float64 for a strongly risk-seeking agent: the need ratio is 1 + e^{-|r| F}
    (1e-105, say), which rounds to 1, met at P_i = 1 (risk_seeking_limit-54)."""
    arrays = at_ceilings(arrays)
    if arrays.margin < 0:
        return None
    g0 = Fraction(float(arrays.gain[arrays.compliant]))
    for i in arrays.deviations:
        excess = Fraction(float(arrays.gain[i])) - Fraction(float(arrays.penalty_cap[i])) - g0
        if excess > 0:
            return Certificate(
                rows=((arrays.action_names[int(i)], 1.0),),
                margin=float(excess),
                least_cost_bound=None,
            )
    return None


def certify_system(system: System) -> Certificate | None:
    """A checked certificate that ``system`` has no point, or None (single rows, the Farkas
    and Lagrangian LPs' multipliers, then Kelley's tangents for concave rows)."""
    for y in _candidates(system):
        certificate = check(system, y)
        if certificate is not None:
            return certificate
    return _cutting_planes(system)


#: The most boxes of s = phi x one proof may use (exponential detection with false flags).
BOXES = 32


def _by_boxes(system: System, start: float, end: float) -> Certificate | None:
    """Exponential detection with false flags: a certificate for every box of s = phi x,
    the boxes covering its range (split in halves while a box has none, up to BOXES), so
    no policy meets the rows whatever its s (spatial branch-and-bound; docs/model.md)."""
    pending = [(start, end)]
    proofs: list[Certificate] = []
    while pending:
        a, b = pending.pop()
        proof = certify_system(on_box(system, a, b, first=a == start, last=b == end))
        if proof is not None:
            proofs.append(proof)
            continue
        if len(proofs) + len(pending) + 2 > BOXES or not b - a > 1e-9 * max(1.0, b):
            return None
        middle = 0.5 * (a + b)
        pending += [(middle, b), (a, middle)]
    return _joined(proofs)


def _joined(proofs: list[Certificate]) -> Certificate | None:
    """One certificate from the boxes' (each box's rows and weights; the weakest margin and
    cost bound)."""
    if not proofs:
        return None
    if len(proofs) == 1:
        return proofs[0]
    weights: dict[str, float] = {}
    for proof in proofs:
        for label, weight in proof.rows:
            weights[label] = max(weights.get(label, 0.0), weight)
    bounds = [p.least_cost_bound for p in proofs]
    return Certificate(
        rows=tuple(weights.items()),
        margin=min(p.margin for p in proofs),
        least_cost_bound=None
        if any(b is None for b in bounds)
        else min(b for b in bounds if b is not None),
    )


#: Rounds of tangents added at the relaxation's deepest point (Kelley's cutting planes).
ROUNDS = 40


def _cutting_planes(system: System) -> Certificate | None:
    """For concave rows: add their tangents at the point of the linear relaxation that
    meets its rows deepest (Kelley 1960, "The cutting-plane method for solving convex
    programs"), until the multipliers of the relaxed system prove infeasibility, or that
    point meets the concave rows (no proof: the program may be feasible)."""
    curved = system.curved
    if curved is None:
        return None
    m = curved.flag_column
    for _ in range(ROUNDS):
        point = _deepest_point(system)
        if point is None:
            return None
        x = point[:m]
        with np.errstate(over="ignore", invalid="ignore"):
            reach = -np.expm1(-np.asarray(curved.intensity @ x, dtype=float).ravel())
            short = curved.need + curved.weight * float(point[m]) - reach  # u: the LP's P_0
        if not np.any(short > 0):
            return None
        system = with_tangents(system, [x])
        for y in (_farkas_lp(system), _lagrangian(system)):
            if y is not None:
                certificate = check(system, y)
                if certificate is not None:
                    return certificate
    return None


def _deepest_point(system: System) -> FloatArray | None:
    """max tau s.t. (a_r z - b_r) / |a_r| >= tau (rows scaled as in :func:`_farkas_lp`),
    tau <= 1, z in the box: a point of the relaxation, or None if it has none (tau < 0)."""
    scaled = _scaled(system)
    if scaled is None:
        return None
    a, b, _ = scaled
    unit = system.unit
    n_rows, n_cols = a.shape
    solution = solve_linear(
        np.concatenate([np.zeros(n_cols), [-1.0]]),
        sp.hstack([-a, sp.csr_matrix(np.ones((n_rows, 1)))]).tocsr(),
        -b,
        bounds=[*zip(system.lower / unit, system.upper / unit, strict=True), (None, 1.0)],
    )
    if not solution.optimal or solution.x is None or solution.x[-1] < 0:
        return None
    return np.asarray(solution.x[:n_cols] * unit, dtype=float)


def _scaled(system: System) -> tuple[sp.csr_matrix, FloatArray, FloatArray] | None:
    """The rows in scaled columns (z = unit v), each divided by its largest coefficient:
    (A~, b~, the divisors), or None when a number is beyond float range."""
    scaled = sp.csr_matrix(system.matrix @ sp.diags(system.unit))
    norms = largest_magnitudes(scaled, axis=1)
    norms = np.where(norms > 0, norms, np.maximum(np.abs(system.bound), 1.0))
    if not (np.all(np.isfinite(norms)) and np.all(np.isfinite(scaled.data))):
        return None
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # subnormal norms
        inverse, bound = 1.0 / norms, system.bound / norms
    if not (np.all(np.isfinite(inverse)) and np.all(np.isfinite(bound))):
        return None
    return sp.csr_matrix(sp.diags(inverse) @ scaled), bound, norms


def _candidates(system: System) -> list[FloatArray]:
    """Multipliers to check: single rows that fail on the whole box (float estimate, best
    first), then the Farkas LP's."""
    singles = _single_rows(system)
    found = [_farkas_lp(system), _lagrangian(system)]
    hardest = replace(system, unit_of=cache(partial(hardest_units, system)))
    found += [_farkas_lp(hardest), _lagrangian(hardest)]
    return singles + [y for y in found if y is not None]


def _single_rows(system: System, skip: int | None = None) -> list[FloatArray]:
    """Single rows that fail on the whole box (float estimate, best first, at most 8), as
    multipliers; ``skip``: a row left out."""
    a, b = system.matrix, system.bound
    most = np.asarray(
        a.maximum(0) @ system.upper + a.minimum(0) @ system.lower, dtype=float
    ).ravel()
    with np.errstate(invalid="ignore"):
        short = b - most
    order = [int(r) for r in np.argsort(-short) if short[r] > 0 and r != skip][:8]
    singles = []
    for r in order:
        y = np.zeros(len(b))
        y[r] = 1.0
        singles.append(y)
    return singles


def single_row_certificate(system: System, *, without_budget: bool = False) -> Certificate | None:
    """A certificate from one row of ``system`` alone, checked exactly (no LP): an action
    that no policy in the box deters, or (unless ``without_budget``: the system without its
    budget row) rate floors that cost more than the budget; None if no single row proves
    anything."""
    skip = system.budget_row if without_budget else None
    for y in _single_rows(system, skip):
        certificate = check(system, y)
        if certificate is not None:
            return certificate
    return None


def hardest_units(system: System) -> FloatArray:
    """Column units for the LPs that find multipliers, a second choice after the system's
    (the rate a monitor alone needs for its *easiest* row, which a need of 1e-25 next to
    one of 1e-7 sets far below the rates that bind): the rate at which column j alone meets
    its hardest row, max_r b_r / a_rj over the rows it helps, within (0, hi_j]."""
    a = sp.csc_matrix(system.matrix)
    unit = np.array(system.unit, dtype=float)
    for j in range(a.shape[1]):
        start, end = a.indptr[j], a.indptr[j + 1]
        rows, values = a.indices[start:end], a.data[start:end]
        helps = (values > 0) & (system.bound[rows] > 0)
        if np.any(helps):
            with np.errstate(all="ignore"):
                need = float(np.max(system.bound[rows[helps]] / values[helps]))
            if np.isfinite(need) and need > 0:
                unit[j] = min(need, system.upper[j]) if system.upper[j] > 0 else need
    return np.asarray(unit)


def _farkas_lp(system: System) -> FloatArray | None:
    """max sum y b~ - sum tau s.t. tau_j >= g_j hi~_j, tau_j >= g_j lo~_j, g = A~'y,
    sum y = 1, y >= 0: in scaled columns (z = unit v) and rows (each divided by its largest
    coefficient); its y, mapped back to the rows as given."""
    scaled = _scaled(system)
    if scaled is None:
        return None
    a, b, norms = scaled
    unit = system.unit
    lo, hi = system.lower / unit, system.upper / unit
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(hi))):
        return None
    n_rows, n_cols = a.shape
    at = sp.csr_matrix(a.T)
    eye = sp.identity(n_cols, format="csr")
    constraints = sp.vstack(
        [sp.hstack([sp.diags(hi) @ at, -eye]), sp.hstack([sp.diags(lo) @ at, -eye])]
    ).tocsr()
    objective = np.concatenate([-b, np.ones(n_cols)])
    solution = solve_linear(
        objective,
        constraints,
        np.zeros(2 * n_cols),
        a_eq=sp.csr_matrix(np.concatenate([np.ones(n_rows), np.zeros(n_cols)])),
        b_eq=[1.0],
        bounds=[(0, None)] * n_rows + [(None, None)] * n_cols,
    )
    if not solution.optimal or solution.x is None or -(solution.objective or 0.0) <= 0:
        return None
    y = np.maximum(np.asarray(solution.x[:n_rows], dtype=float), 0.0) / norms
    return np.asarray(y)


def _lagrangian(system: System) -> FloatArray | None:
    """With a budget: the duals of the least-cost LP without it (weight 1 on the budget
    row). They give the Lagrangian bound c z >= y'b + min over the box of (c - A'y) z, the
    certificate when that exceeds the budget; more precise than the Farkas LP's when the
    budget is within 1e-8 of the least cost."""
    row = system.budget_row
    if row is None:
        return None
    keep = np.arange(system.matrix.shape[0]) != row
    unit = system.unit
    scaled = sp.csr_matrix(system.matrix[np.flatnonzero(keep)] @ sp.diags(unit))
    norms = largest_magnitudes(scaled, axis=1)
    norms = np.where(norms > 0, norms, np.maximum(np.abs(system.bound[keep]), 1.0))
    cost = -np.asarray(system.matrix[row].todense(), dtype=float).ravel() * unit
    largest = float(np.max(np.abs(cost), initial=0.0))
    with np.errstate(over="ignore", divide="ignore"):  # a subnormal norm (a risk-seeking
        inverse = 1.0 / norms  # agent's row far beyond exp's range): no certificate here
    if not (
        largest > 0
        and np.all(np.isfinite(norms))
        and np.all(np.isfinite(inverse))
        and np.all(np.isfinite(cost))
    ):
        return None
    solution = solve_linear(
        cost / largest,
        -sp.csr_matrix(sp.diags(inverse) @ scaled),
        -system.bound[keep] / norms,
        bounds=list(zip(system.lower / unit, system.upper / unit, strict=True)),
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if not solution.optimal:
        return None
    y = np.zeros(system.matrix.shape[0])
    y[keep] = np.maximum(-solution.ineq_marginals, 0.0)
    y[keep] *= largest / norms
    y[row] = 1.0
    return y


def check(system: System, y: FloatArray) -> Certificate | None:
    """The certificate of multipliers ``y``, if it holds in exact arithmetic for every
    coefficient within ROOM (relative) of the float64 one: the margin is taken at the
    worst such coefficients (so rounding in computing the rows cannot fake a proof)."""
    found = _exact_margin(system, y)
    if found is None:
        return None
    total, weights, top = found
    if total <= 0:
        return None
    bound = None
    if system.budget_row is not None and system.budget_row in weights:
        y_budget = weights[system.budget_row]
        bound = _down(Fraction(float(-system.bound[system.budget_row])) + total / y_budget)
    return Certificate(
        rows=tuple((system.labels[r], float(y[r] / top)) for r in weights),
        margin=float(total),
        least_cost_bound=bound,
    )


def _down(value: Fraction) -> float:
    """The largest float64 at most ``value``."""
    near = float(value)
    return math.nextafter(near, -math.inf) if Fraction(near) > value else near


def _exact_margin(
    system: System, y: FloatArray, keep: int | None = None
) -> tuple[Fraction, dict[int, Fraction], float] | None:
    """sum_r y_r b_r - max over the box of (sum_r y_r a_r) z, in exact arithmetic at the
    worst coefficients within ROOM of the float64 ones, over the rows whose multiplier is
    not negligible (and row ``keep``); with those rows' weights and the largest multiplier.
    Any y >= 0 gives a valid figure (weak duality); a poor y only a weaker one.

    Every number here is a binary64 float, so each is an integer times 2^-S for the finest
    unit 2^-S among them; products of up to four of them are integers in units of 2^-4S,
    and the whole sum is computed in Python integers, exactly (the same value as in
    Fractions, whose reductions after each operation cost most of a check), then made one
    Fraction."""
    y = np.where(np.isfinite(y) & (y > 0), y, 0.0)
    top = float(np.max(y, initial=0.0))
    if top <= 0:
        return None
    support = [int(r) for r in np.flatnonzero(y > NEGLIGIBLE * top)]
    if keep is not None and keep not in support and y[keep] > 0:
        support.append(keep)
    weights = {r: Fraction(float(y[r])) for r in support}
    # the entries of the support rows: (row, column, value, computed?)
    entries: list[tuple[int, int, float, bool]] = []
    for r in support:
        for part, inexact in ((system.exact, False), (system.rounded, True)):
            start, end = part.indptr[r], part.indptr[r + 1]
            columns = part.indices[start:end].tolist()
            values = part.data[start:end].tolist()
            entries += [(r, j, v, inexact) for j, v in zip(columns, values, strict=True)]
    columns = list(dict.fromkeys(j for _, j, _, _ in entries))
    ratios = {
        x: x.as_integer_ratio()
        for x in (
            ROOM,
            *(float(y[r]) for r in support),
            *(float(system.bound[r]) for r in support),
            *(v for _, _, v, _ in entries),
            *(float(system.lower[j]) for j in columns),
            *(float(system.upper[j]) for j in columns),
        )
    }
    shift = max(d.bit_length() - 1 for _, d in ratios.values())  # S: the finest unit 2^-S
    units = {x: n << (shift - d.bit_length() + 1) for x, (n, d) in ratios.items()}
    room = units[ROOM]
    weight = {r: units[float(y[r])] for r in support}
    combined: dict[int, int] = {}  # units 2^-2S
    size: dict[int, int] = {}  # sum_r y_r |a_rj| over the rounded entries, units 2^-2S
    for r, j, value, inexact in entries:
        term = weight[r] * units[value]
        combined[j] = combined.get(j, 0) + term
        if inexact:
            size[j] = size.get(j, 0) + abs(term)
    total = 0  # units 2^-4S
    for r in support:
        weighted = weight[r] * units[float(system.bound[r])]  # units 2^-2S
        total += weighted << (2 * shift)
        if system.bound_rounded[r]:
            total -= (room * abs(weighted)) << shift  # a computed b_r off by ROOM of itself
    for j, g in combined.items():
        lo, hi = units[float(system.lower[j])], units[float(system.upper[j])]
        # and each computed a_rj by ROOM of itself: g_j anywhere in g +- room * size_j
        spread = room * size.get(j, 0)  # units 2^-3S
        middle = g << shift
        total -= max(e * z for e in (middle - spread, middle + spread) for z in (lo, hi))
    return Fraction(total, 1 << (4 * shift)), weights, top


def least_cost_bound(system: System, cost: FloatArray) -> float | None:
    """A lower bound on the cost c x of every point of ``system`` (a relaxation of the
    model's policies), proven in exact arithmetic whatever the solver's error: with y >= 0
    the duals of the LP min c x over the system's rows (HiGHS, :func:`_lagrangian`),

        c x >= sum_r y_r b_r + min over the box of (c - A'y) z        (weak duality),

    evaluated as :func:`check` evaluates a certificate (the cost appended as a row
    -c x >= 0 with multiplier 1). None when the LP gives no multipliers (then nothing is
    proven: an infeasible LP needs :func:`check`'s certificate instead)."""
    width = system.exact.shape[1]
    row = system.exact.shape[0]
    price = np.zeros(width)
    price[: len(cost)] = -np.asarray(cost, dtype=float)
    costed = replace(
        system,
        exact=sp.vstack([system.exact, sp.csr_matrix(price.reshape(1, -1))]).tocsr(),
        rounded=sp.vstack([system.rounded, sp.csr_matrix((1, width))]).tocsr(),
        bound=np.append(system.bound, 0.0),
        bound_rounded=np.append(system.bound_rounded, False),
        labels=(*system.labels, "cost"),
        budget_row=row,
    )
    y = _lagrangian(costed)
    if y is None:
        return None
    found = _exact_margin(costed, y, keep=row)
    if found is None or row not in found[1]:
        return None
    total, weights, _ = found
    return _down(total / weights[row])


def certify_commitment_infeasible(
    data: StrategicArrays, assignment: Sequence[int], budget: bool = True
) -> Certificate | None:
    """A checked certificate that no allowed policy makes each type k's ``assignment[k]`` a
    best response (by the margin, ties to the principal) within the rate bounds (and, when
    ``budget``, the budget), or None. docs/model.md, "Agent types".

    The system in (x, p), p_j a detection per action: for type k and each action i other than
    its a = assignment[k],

        d^hi_ki p_i - d^lo_ka p_a >= u_k(g^hi_i) - u_k(g^lo_a) + m_k

    (EU_j = u(g_j) - d_j P_j in wealth relative to the type's low compliant gain, as the
    verification holds it), with p_j <= Q_j x, p_j in [0, 1], and p_j >= Q_j x where Q_j x
    <= 1 over the box (there P_j = Q_j x), else p_j >= Q_j x / R_j with R_j = Q_j x_max > 1
    (min(1, s) >= s / R for s in [0, R]); the compliant action's p is P_0 = f x likewise;
    the budget -c x >= -B (fixed costs, >= 0, dropped: a relaxation; when that system has no
    certificate, one for each deployment of the monitors with fixed costs,
    :func:`_by_deployments`). Every policy the
    model accepts gives p = P(x) meeting all rows. The right-hand sides are differences of
    utilities that may cancel: each is lowered by ROOM of itself and 16 ulps of its terms
    and given as exact; the caught losses d get ROOM in :func:`check`.
    """
    uncaught = uncaught_pays(data, assignment)
    if uncaught is not None:
        return uncaught
    base = data.base
    n, m = base.n_actions, base.n_monitors
    c = base.compliant
    width = m + n
    q = sp.lil_matrix(sp.csr_matrix(base.detection, dtype=float))
    q[c] = np.asarray(base.false_positive, dtype=float).reshape(1, -1)
    q = sp.csr_matrix(q)
    exact: list[sp.csr_matrix] = []
    rounded: list[sp.csr_matrix] = []
    bounds: list[float] = []
    labels: list[str] = []

    def row(values: dict[int, float]) -> sp.csr_matrix:
        cols = list(values)
        return sp.csr_matrix(
            (list(values.values()), ([0] * len(cols), cols)), shape=(1, width), dtype=float
        )

    zero = sp.csr_matrix((1, width))
    reach = np.asarray(q @ base.max_rate, dtype=float).ravel()
    for j in range(n):  # p_j <= Q_j x (and >= where it cannot saturate)
        upper = -q[j].toarray().ravel()
        exact.append(row({**{int(k): float(upper[k]) for k in np.flatnonzero(upper)}, m + j: 1.0}))
        exact[-1] = -exact[-1]
        rounded.append(zero)
        bounds.append(0.0)
        labels.append(f"detection of {base.action_names[j]}")
        if reach[j] <= 1.0:
            exact.append(-exact[-1])
            rounded.append(zero)
        else:  # min(1, s) >= s / R for s in [0, R], R >= 1: p_j >= Q_j x / R_j
            exact.append(row({m + j: 1.0}))
            rounded.append(row({int(k): float(upper[k] / reach[j]) for k in np.flatnonzero(upper)}))
        bounds.append(0.0)
        labels.append(f"detection of {base.action_names[j]}")
    # The rows in log space (model/pair_rows.py), each divided by its largest term: finite
    # for any r x gain. Their right-hand sides are lowered by the round-off of their logs
    # (eps x the exponents) on top of ROOM and the 16 ulps.
    pairs = all_pairs(data.n_types, n, assignment)
    logs = pair_logs(data, pairs)
    scaled = scaled_rows(logs)
    with np.errstate(over="ignore", invalid="ignore"):
        sizes = (
            np.exp(logs.free_own - scaled.log_scale)
            + np.exp(logs.free_other - scaled.log_scale)
            + np.exp(logs.margin - scaled.log_scale)
            - scaled.own
            + scaled.other
        )
    for t, (k, a, i) in enumerate(pairs.tolist()):
        b = -float(scaled.constant[t])
        size = float(sizes[t]) * (1.0 + float(logs.exponent[t]))
        coefficients = {m + i: float(scaled.other[t])}
        coefficients[m + a] = coefficients.get(m + a, 0.0) + float(scaled.own[t])
        if not (math.isfinite(b) and math.isfinite(size)):
            continue  # beyond float range: left out (fewer rows, still sound)
        lowered = b - ROOM * abs(b) - 16 * EPS * size
        if float(scaled.own[t]) * (1 + ROOM) >= lowered:
            # met at every p in [0, 1]^n (its least, p_a = 1 and p_i = 0): left out, as
            # divided by a tiny coefficient (7e-82) its bound would be -1e81 in the LPs
            continue
        exact.append(zero)
        rounded.append(row(coefficients))
        bounds.append(lowered)
        labels.append(f"{data.type_names[k]}: {base.action_names[a]} over {base.action_names[i]}")
    budget_row = None
    if budget and base.budget is not None:
        budget_row = len(labels)
        exact.append(row({j: -float(base.cost[j]) for j in range(m) if base.cost[j]}))
        rounded.append(zero)
        bounds.append(-float(base.budget))
        labels.append("budget")
    system = System(
        exact=sp.vstack(exact).tocsr(),
        rounded=sp.vstack(rounded).tocsr(),
        bound=np.array(bounds, dtype=float),
        bound_rounded=np.zeros(len(labels), dtype=bool),
        lower=np.concatenate([base.min_rate, np.zeros(n)]).astype(float),
        upper=np.concatenate([base.max_rate, np.ones(n)]).astype(float),
        unit_of=partial(np.ones, width),
        labels=tuple(labels),
        budget_row=budget_row,
    )
    saturating = [j for j in range(n) if reach[j] > 1.0]

    def proof_of(cases: System) -> Certificate | None:
        found = _first_certificate(cases)
        if found is not None or budget_row is None:
            return found
        return _by_deployments(cases, data)

    first = proof_of(system)
    if first is not None or not saturating or len(saturating) > SATURATIONS:
        return first
    return _by_saturation(system, q, m, saturating, proof_of)


def uncaught_pays(data: StrategicArrays, assignment: Sequence[int]) -> Certificate | None:
    """A closed-form proof: some type k's action i can never cost it anything (no monitor
    with a positive ceiling detects i, or i's penalty is 0) and pays more than its assigned
    a (g^hi_ki > g^lo_ka, or equal with a margin > 0; compared exactly in Fractions of the
    binary64 numbers). Then EU_ki = u(g^hi_ki) > u(g^lo_ka) >= EU_ka for any increasing u,
    whatever the policy. In float64 rows this is invisible for a strongly risk-averse type:
    the need P_i >= e^-3242 is 0 once divided by the row's largest term, met at P_i = 0."""
    base = data.base
    c = base.compliant
    q = sp.lil_matrix(sp.csr_matrix(base.detection, dtype=float))
    q[c] = np.asarray(base.false_positive, dtype=float).reshape(1, -1)
    # non-negative products of spec numbers (>= 1e-100 each) are 0 only if a factor is
    reach = np.asarray(sp.csr_matrix(q) @ base.max_rate, dtype=float).ravel()
    penalty = base.penalty_cap.astype(float).copy()
    penalty[c] = base.false_positive_penalty
    margin = Fraction(float(base.margin))
    if margin < 0:
        return None
    for k, a in enumerate(assignment):
        low = Fraction(float(data.gain_low[k, a]))
        for i in range(base.n_actions):
            if i == a or (reach[i] > 0 and penalty[i] > 0):
                continue
            excess = Fraction(float(data.gain_high[k, i])) - low
            if excess > 0 or (excess == 0 and margin > 0):
                label = f"{data.type_names[k]}: {base.action_names[a]} over {base.action_names[i]}"
                return Certificate(
                    rows=((label, 1.0),), margin=float(excess or margin), least_cost_bound=None
                )
    return None


#: The most actions that can saturate (Q_j x reaching 1) whose two cases are enumerated.
SATURATIONS = 5


def _by_saturation(
    system: System,
    q: sp.csr_matrix,
    m: int,
    saturating: list[int],
    proof_of: Callable[[System], Certificate | None],
) -> Certificate | None:
    """P_j = min(1, Q_j x) exactly, by cases: either Q_j x <= 1 and p_j >= Q_j x, or
    Q_j x >= 1 and p_j >= 1 (both linear, with the spec's own numbers). Every policy is in
    one case per action, so a certificate for every combination proves infeasibility where
    the secant p_j >= Q_j x / R_j is too weak (an induced action whose detection can
    saturate, under ``min_loss``)."""
    width = system.exact.shape[1]
    proofs: list[Certificate] = []
    for mask in range(1 << len(saturating)):
        exact, bounds, labels = [], [], []
        lower = system.lower.copy()
        for k, j in enumerate(saturating):
            reach = sp.csr_matrix(q[j], dtype=float)
            reach = sp.csr_matrix((reach.data, reach.indices, reach.indptr), shape=(1, width))
            pick = sp.csr_matrix(([1.0], ([0], [m + j])), shape=(1, width))
            if mask >> k & 1:  # saturated: Q_j x >= 1, p_j = 1
                exact.append(reach)
                bounds.append(1.0)
                lower[m + j] = 1.0
            else:  # Q_j x <= 1 and p_j >= Q_j x
                exact += [-reach, pick - reach]
                bounds += [-1.0, 0.0]
            labels += [system.labels[2 * j]] * (1 if mask >> k & 1 else 2)
        cases = replace(
            system,
            exact=sp.vstack([system.exact, *exact]).tocsr(),
            rounded=sp.vstack([system.rounded, sp.csr_matrix((len(bounds), width))]).tocsr(),
            bound=np.concatenate([system.bound, bounds]),
            bound_rounded=np.concatenate([system.bound_rounded, np.zeros(len(bounds), bool)]),
            labels=system.labels + tuple(labels),
            lower=lower,
        )
        proof = proof_of(cases)
        if proof is None:
            return None
        proofs.append(proof)
    return _joined(proofs)


def _first_certificate(system: System) -> Certificate | None:
    for y in _candidates(system):
        certificate = check(system, y)
        if certificate is not None:
            return certificate
    return None


#: The most monitors with fixed costs whose deployments are enumerated (2^k systems).
DEPLOYMENTS = 8


def _by_deployments(system: System, data: StrategicArrays) -> Certificate | None:
    """With fixed costs and a budget: a certificate for every deployment D (the monitors with
    a fixed cost that are on; one with a rate floor always is), each system with the rates
    of the others at 0 and the budget lowered by the fixed costs of D, -c x >= f(D) - B
    (f(D) - B exact in rationals, rounded down: a relaxation). Every policy deploys some D,
    so none is within the budget (docs/model.md, "Certificates of infeasibility")."""
    base = data.base
    fixed = [j for j in range(base.n_monitors) if data.fixed_cost[j] > 0]
    row = system.budget_row
    if not fixed or len(fixed) > DEPLOYMENTS or row is None:
        return None
    proofs: list[Certificate] = []
    budget = Fraction(float(base.budget)) if base.budget is not None else None
    if budget is None:
        return None
    for mask in range(1 << len(fixed)):
        on = {j for k, j in enumerate(fixed) if mask >> k & 1}
        if any(base.min_rate[j] > 0 and j not in on for j in fixed):
            continue  # a monitor with a rate floor is deployed in every policy
        upper = system.upper.copy()
        for j in fixed:
            if j not in on:
                upper[j] = 0.0
        left = budget - sum((Fraction(float(data.fixed_cost[j])) for j in on), Fraction(0))
        bound = system.bound.copy()
        lowered = float(-left)
        if Fraction(lowered) > -left:
            lowered = math.nextafter(lowered, -math.inf)
        bound[row] = lowered
        proof = _first_certificate(replace(system, upper=upper, bound=bound))
        if proof is None:
            return None
        proofs.append(proof)
    return _joined(proofs)


def floors_over_budget(data: StrategicArrays) -> bool:
    """The rate floors alone (and the fixed costs of the monitors they force on) cost more
    than the budget, decided exactly: no policy at all is within it."""
    base = data.base
    if base.budget is None:
        return False
    forced = (base.min_rate > 0).astype(float)
    total = sum(
        (
            Fraction(float(cost)) * Fraction(float(x))
            for cost, x in zip(
                np.concatenate([base.cost, data.fixed_cost]).tolist(),
                np.concatenate([base.min_rate, forced]).tolist(),
                strict=True,
            )
        ),
        Fraction(0),
    )
    return total > Fraction(float(base.budget))
