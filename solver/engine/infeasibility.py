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
  (exact without false flags, a relaxation with them);
* a penalty design is relaxed to the caps (the easiest penalties to deter with); P_0 = f x
  is used only where f x <= 1 over the box (it agrees with min(1, f x) there), else the
  false-flag term is dropped (P_0 >= 0, a relaxation);
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

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..formulation.components.deterrence import Deterrence, can_bind
from ..formulation.scaling import detection_units, rate_units
from ..model.arrays import ProblemArrays
from ..model.detection import log_escape
from ..model.utility import FloatArray

#: How far (relative) each coefficient of the rows may be from the model's exact number: the
#: certificate must hold for every coefficient that far off (needs and weights are computed
#: in float64, about 1e-15 relative, 1e-13 for CARA numbers near exp's range).
ROOM = 1e-9
#: Rows of a multiplier below this fraction of the largest are dropped before the exact check.
NEGLIGIBLE = 1e-14


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
    unit: FloatArray  # a column unit for solving (the rate a monitor alone needs), 1 for t
    labels: tuple[str, ...]
    budget_row: int | None

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
        return tuple(dict.fromkeys(label for label, _ in self.rows if label != "budget"))

    def describe(self) -> str:
        if len(self.rows) == 1:
            label = self.rows[0][0]
            if label == "budget":
                return "the rate floors alone cost more than the budget"
            return f"no allowed policy deters {label}"
        return "a combination of " + ", ".join(
            f"{label} ({weight:.3g})" for label, weight in self.rows
        )


def build_system(arrays: ProblemArrays) -> System:
    """The rows of the module docstring, for the spec's own numbers (built by blocks)."""
    values = Deterrence().values(arrays)
    dev = arrays.deviations
    need = np.broadcast_to(np.asarray(values["need"], dtype=float), dev.shape)
    flag = np.broadcast_to(np.asarray(values["false_flag_weight"], dtype=float), dev.shape)
    weight = np.broadcast_to(np.asarray(values["detection_weight"], dtype=float), dev.shape)
    m = arrays.n_monitors
    curves = arrays.roc if arrays.detection_model == "linear" else ()
    width = m + len(curves)
    f = np.asarray(arrays.false_positive, dtype=float)
    flags_exact = arrays.detection_model == "linear" and float(f @ arrays.max_rate) <= 1.0
    if not flags_exact:
        f = np.zeros(m)  # P_0 >= 0: the false-flag term dropped (a relaxation)
    flag_row = sp.csr_matrix(np.concatenate([f, np.zeros(len(curves))]).reshape(1, width))
    # a row that cannot bind, or numbers beyond range, is left out (sound: fewer rows)
    kept = can_bind(arrays) & np.isfinite(need) & np.isfinite(flag)
    exact: list[sp.csr_matrix] = []
    rounded: list[sp.csr_matrix] = []
    bounds: list[FloatArray] = []
    owners: list[np.ndarray] = []  # deviation index (into dev) of each row

    def add(rows: np.ndarray, given: sp.spmatrix | None, computed: sp.spmatrix, bound: Any) -> None:
        if rows.size:
            zero = sp.csr_matrix((len(rows), width))
            exact.append(zero if given is None else sp.csr_matrix(given))
            rounded.append(sp.csr_matrix(computed))
            bounds.append(np.asarray(bound, dtype=float))
            owners.append(rows)

    def flags_of(rows: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(sp.kron(sp.csr_matrix(flag[rows].reshape(-1, 1)), flag_row))

    silent = np.flatnonzero(kept & (weight == 0))  # no detection weight: -w P_0 >= n
    add(silent, None, -flags_of(silent), need[silent])
    active = np.flatnonzero(kept & (weight > 0))
    reach = sp.csr_matrix(arrays.detection)[dev[active]]
    if arrays.detection_model == "exponential":
        reach = sp.csr_matrix(log_escape(reach))
        finite = np.array([np.all(np.isfinite(reach[k].data)) for k in range(len(active))])
        # a sure catch (q = 1, L infinite) is beyond a linear row: that row is left out
        reach, active = reach[np.flatnonzero(finite)], active[finite]
        caught = need[active] < 1
        chosen = active[caught]
        add(chosen, None, reach[np.flatnonzero(caught)], -np.log1p(-need[chosen]))
        never = active[~caught]  # P_i < 1 at every policy: 0 >= 1
        add(never, None, sp.csr_matrix((len(never), width)), np.ones(len(never)))
    else:
        position = {int(i): k for k, i in enumerate(dev[active])}
        pick = [(position[c.action], col) for col, c in enumerate(curves) if c.action in position]
        roc = sp.csr_matrix(
            (np.ones(len(pick)), ([r for r, _ in pick], [c for _, c in pick])),
            shape=(len(active), len(curves)),
        )
        add(active, sp.hstack([reach, roc]), -flags_of(active), need[active])
        most = float(f @ arrays.max_rate)
        capped = active[need[active] - 1 + flag[active] * most > 0]  # P_i <= 1 can bind
        add(capped, None, -flags_of(capped), need[capped] - 1.0)
    labels = [arrays.action_names[int(dev[k])] for rows in owners for k in rows]
    for c, curve in enumerate(curves):
        slope, intercept = curve.segments
        segments = sp.csr_matrix(
            (
                np.concatenate([slope, -np.ones(len(slope))]),
                (
                    np.tile(np.arange(len(slope)), 2),
                    np.repeat([curve.monitor, m + c], len(slope)),
                ),
            ),
            shape=(len(slope), width),
        )
        exact.append(sp.csr_matrix((len(slope), width)))
        rounded.append(segments)
        bounds.append(-np.asarray(intercept, dtype=float))
        labels += [arrays.action_names[curve.action]] * len(slope)
    bound_rounded = np.ones(len(labels), dtype=bool)
    budget_row = None
    if arrays.budget is not None:
        budget_row = len(labels)
        exact.append(sp.csr_matrix(-np.concatenate([arrays.cost, np.zeros(len(curves))])))
        rounded.append(sp.csr_matrix((1, width)))
        bounds.append(np.array([-arrays.budget]))
        labels.append("budget")
        bound_rounded = np.append(bound_rounded, False)
    unit = np.concatenate([rate_units(arrays, detection_units(arrays)), np.ones(len(curves))])

    def stacked(parts: list[sp.csr_matrix]) -> sp.csr_matrix:
        return sp.vstack(parts).tocsr() if parts else sp.csr_matrix((0, width))

    return System(
        exact=stacked(exact),
        rounded=stacked(rounded),
        bound=np.concatenate(bounds) if bounds else np.zeros(0),
        bound_rounded=bound_rounded,
        lower=np.concatenate([arrays.min_rate, np.zeros(len(curves))]).astype(float),
        upper=np.concatenate([arrays.max_rate, np.ones(len(curves))]).astype(float),
        unit=unit,
        labels=tuple(labels),
        budget_row=budget_row,
    )


def certify_infeasible(arrays: ProblemArrays) -> Certificate | None:
    """A checked certificate that no allowed policy deters every action, or None."""
    system = build_system(arrays)
    if system.matrix.shape[0] == 0:
        return None
    for y in _candidates(system):
        certificate = check(system, y)
        if certificate is not None:
            return certificate
    return None


def _candidates(system: System) -> list[FloatArray]:
    """Multipliers to check: single rows that fail on the whole box (float estimate, best
    first), then the Farkas LP's."""
    a, b = system.matrix, system.bound
    most = np.asarray(
        a.maximum(0) @ system.upper + a.minimum(0) @ system.lower, dtype=float
    ).ravel()
    with np.errstate(invalid="ignore"):
        short = b - most
    order = [int(r) for r in np.argsort(-short) if short[r] > 0][:8]
    singles = []
    for r in order:
        y = np.zeros(len(b))
        y[r] = 1.0
        singles.append(y)
    found = [_farkas_lp(system), _lagrangian(system)]
    return singles + [y for y in found if y is not None]


def _farkas_lp(system: System) -> FloatArray | None:
    """max sum y b~ - sum tau s.t. tau_j >= g_j hi~_j, tau_j >= g_j lo~_j, g = A~'y,
    sum y = 1, y >= 0: in scaled columns (z = unit v) and rows (each divided by its largest
    coefficient); its y, mapped back to the rows as given."""
    unit = system.unit
    scaled = sp.csr_matrix(system.matrix @ sp.diags(unit))
    norms = np.asarray(abs(scaled).max(axis=1).todense(), dtype=float).ravel()
    norms = np.where(norms > 0, norms, np.maximum(np.abs(system.bound), 1.0))
    if not (np.all(np.isfinite(norms)) and np.all(np.isfinite(scaled.data))):
        return None
    a = sp.csr_matrix(sp.diags(1.0 / norms) @ scaled)
    b = system.bound / norms
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
    solution = linprog(
        objective,
        A_ub=constraints,
        b_ub=np.zeros(2 * n_cols),
        A_eq=sp.csr_matrix(np.concatenate([np.ones(n_rows), np.zeros(n_cols)])),
        b_eq=[1.0],
        bounds=[(0, None)] * n_rows + [(None, None)] * n_cols,
        method="highs",
    )
    if solution.status != 0 or solution.x is None or -solution.fun <= 0:
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
    norms = np.asarray(abs(scaled).max(axis=1).todense(), dtype=float).ravel()
    norms = np.where(norms > 0, norms, np.maximum(np.abs(system.bound[keep]), 1.0))
    cost = -np.asarray(system.matrix[row].todense(), dtype=float).ravel() * unit
    largest = float(np.max(np.abs(cost), initial=0.0))
    if not (largest > 0 and np.all(np.isfinite(norms)) and np.all(np.isfinite(cost))):
        return None
    solution = linprog(
        cost / largest,
        A_ub=-sp.csr_matrix(sp.diags(1.0 / norms) @ scaled),
        b_ub=-system.bound[keep] / norms,
        bounds=list(zip(system.lower / unit, system.upper / unit, strict=True)),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if solution.status != 0:
        return None
    y = np.zeros(system.matrix.shape[0])
    y[keep] = np.maximum(-np.asarray(solution.ineqlin.marginals, dtype=float), 0.0)
    y[keep] *= largest / norms
    y[row] = 1.0
    return y


def check(system: System, y: FloatArray) -> Certificate | None:
    """The certificate of multipliers ``y``, if it holds in exact arithmetic for every
    coefficient within ROOM (relative) of the float64 one: the margin is taken at the
    worst such coefficients (so rounding in computing the rows cannot fake a proof)."""
    y = np.where(np.isfinite(y) & (y > 0), y, 0.0)
    top = float(np.max(y, initial=0.0))
    if top <= 0:
        return None
    support = [int(r) for r in np.flatnonzero(y > NEGLIGIBLE * top)]
    weights = {r: Fraction(float(y[r])) for r in support}
    room = Fraction(ROOM)
    combined: dict[int, Fraction] = {}
    size: dict[int, Fraction] = {}  # sum_r y_r |a_rj| over the rounded entries
    total = Fraction(0)
    for r in support:
        for part, inexact in ((system.exact, False), (system.rounded, True)):
            start, end = part.indptr[r], part.indptr[r + 1]
            for j, value in zip(part.indices[start:end], part.data[start:end], strict=True):
                term = weights[r] * Fraction(float(value))
                combined[int(j)] = combined.get(int(j), Fraction(0)) + term
                if inexact:
                    size[int(j)] = size.get(int(j), Fraction(0)) + abs(term)
        weighted = weights[r] * Fraction(float(system.bound[r]))
        total += weighted
        if system.bound_rounded[r]:
            total -= room * abs(weighted)  # a computed b_r may be off by ROOM of itself
    for j, g in combined.items():
        lo, hi = Fraction(float(system.lower[j])), Fraction(float(system.upper[j]))
        # and each computed a_rj by ROOM of itself: g_j anywhere in g +- room * size_j
        spread = room * size.get(j, Fraction(0))
        total -= max(e * z for e in (g - spread, g + spread) for z in (lo, hi))
    if total <= 0:
        return None
    bound = None
    if system.budget_row is not None and system.budget_row in weights:
        y_budget = weights[system.budget_row]
        bound = float(Fraction(float(-system.bound[system.budget_row])) + total / y_budget)
    return Certificate(
        rows=tuple((system.labels[r], float(y[r] / top)) for r in support),
        margin=float(total),
        least_cost_bound=bound,
    )
