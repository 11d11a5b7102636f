"""Penalty design with linear detection, solved exactly: rate LPs at fixed penalties and a
Lagrangian lower bound over the penalties.

The cone program of ``formulation/components/penalty.py`` is solved by an interior-point
method, which stops near its optimum: a penalty a hair below its cap, rates a hair above
their floors, and a certificate (Clarabel's residuals) measured in the solver's own units.
For a risk-neutral agent with linear detection (the only agent a penalty design accepts;
exponential and ROC detection are left to the cone program) the problem has more structure:

    minimise  c.x + a pen(F)     s.t.  P_i F_i >= k_i,  P_i <= min(1, Q_i x),
              F_i in [0, cap_i],  l <= x <= h,  c.x <= B,
    pen(F) = sum_i F_i (per_action) or the one level F (shared: F_i = F <= min cap).

**Fixed penalties.** For fixed F the problem is the linear program LP(F): min c.x subject
to Q_i x >= b_i = k_i / F_i for the actions that pay (k_i > 0), the rate bounds and the
budget. HiGHS solves it (rows divided by b_i, columns by the rate each monitor needs, so
every coefficient is of order one), its rates are rounded outward (raised by their
relative shortfall) and its penalties raised to k_i / P_i(x) where the solver's tolerance
left a row short.

**Lower bound** (weak Lagrangian duality, Boyd & Vandenberghe 2004, 5.1-5.2). For any
y >= 0 (one per paying action) and nu >= 0 (the budget), every feasible (x, F) has

    c.x + a pen(F) >= c.x + nu (c.x - B) - sum_i y_i (Q_i x - k_i / F_i) + a pen(F)
                    = -nu B + sum_j r_j x_j + sum_i y_i k_i / F_i + a pen(F),
    r = (1 + nu) c - Q'y,

because Q_i x >= P_i >= k_i / F_i. Minimising each part separately over its own range gives
a bound on the least cost that holds exactly, with no residual to judge: r_j x_j is least at
x_j = l_j (r_j >= 0) or h_j; a F + beta / F (beta = y_i k_i per action, sum_i y_i k_i for a
shared level) is least at F = clip(sqrt(beta / a), F_lo, cap), where F_lo = k_i / min(1, Q_i h)
is the least penalty that can deter at all (P_i <= min(1, Q_i h)). The multipliers are the
HiGHS duals of LP(F) at the penalties tried (mapped back to the model's units), the
multipliers a penalty strictly inside its range must have (y_i = a F_i^2 / k_i, from
a - y_i k_i / F_i^2 = 0), and the best point of each segment between two such multipliers
(the bound is concave in (y, nu), and a kink of LP(F) sits between two of its duals).

**Search.** Start at the caps (Becker's penalties) and at the cone program's penalties when
there are some; at each step solve LP(F) at the penalties minimising the best bound's
Lagrangian, until the policy found costs at most 1e-9 (relative) above the bound, or at most
1e-8 above it and a step did not halve the gap, or 20 steps have run. Where the LPs'
multipliers leave the bound short after the start and the caps (a degenerate LP(F), whose
multipliers at the optimal penalties are one of many), the multipliers of the design
written in its detections, a convex program without a duality gap
(``formulation/penalty_detection.py``, Clarabel), are tried, and LP(F) at its penalties.
For a shared level the search is Kelley's cutting-plane method in one variable (LP(F)
is convex and piecewise linear in 1/F, so it ends at the exact optimum). The answer is
accepted when verification (``verify.py``) passes and the gap to the bound is within
``GAP_TOLERANCE``: the certificate (kind ``penalty_duality``) then proves the reported cost
is at most that much above the least cost.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from ..formulation.linear import solve_linear
from ..formulation.penalty_detection import DetectionDuals, detection_program_duals
from ..model.arrays import ProblemArrays
from ..model.detection import detection_probability
from ..model.penalties import deterrence_need, penalty_ceiling, penalty_cost_of
from ..model.utility import FloatArray
from ..results.result import DualityCertificate, Verification
from .certificate import GAP_TOLERANCE, ROUND_OFF
from .verify import TOLERANCE, verify_policy

#: The search stops once the policy found is within this (relative) of the lower bound.
TARGET_GAP = 1e-9
#: Most rate LPs solved per spec.
MAX_STEPS = 20
#: A gap this small (relative, 100 times below the certificate's tolerance) that a step
#: does not halve ends the search: the steps left would cost LPs for digits the certificate
#: does not need (penalty_design-400108 ran 20 more LPs at 9e-9).
STALLED_GAP = 1e-8
#: HiGHS options for the rate LP (its rows and columns are of order one).
HIGHS_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}
#: Largest relative shortfall of a row that rounding outward repairs (a solver tolerance).
REPAIRABLE = 1e-6
#: Outward rounding on top of the measured shortfall (float round-off in P_i F_i >= k_i).
OUTWARD = 1e-12
#: Bisection steps towards penalties whose rate LP has no answer (a binding budget).
BISECTION_STEPS = 40
#: A rate within this (relative) of a positive floor is tried at the floor (_snapped).
SNAP = 1e-6
#: Steps of the golden-section search along a segment between two multipliers.
SEGMENT_STEPS = 40


def applies(arrays: ProblemArrays) -> bool:
    """Penalties are decisions, detection is linear without ROC monitors, and the agent
    is risk neutral with no false-flag penalty (the spec refuses the rest with a design)."""
    return (
        arrays.penalty_design in ("per_action", "shared")
        and arrays.detection_model == "linear"
        and not arrays.roc
        and arrays.risk_aversion == 0
        and (arrays.false_positive_penalty == 0 or not np.any(arrays.false_positive > 0))
    )


@dataclass(frozen=True, eq=False)
class Design:
    """The numbers of the problem, restricted to the actions that pay (k_i > 0)."""

    arrays: ProblemArrays
    paying: np.ndarray  # positions among the deviations with k_i > 0
    need: FloatArray  # k_i (paying)
    detection: sp.csr_matrix  # Q_i (paying rows)
    least: FloatArray  # F_lo_i = k_i / min(1, Q_i h): no smaller penalty can deter
    cap: FloatArray  # the largest penalty of each paying action (shared: the smallest cap)
    shared: bool

    @property
    def cost(self) -> FloatArray:
        return self.arrays.cost

    @property
    def penalty_cost(self) -> float:
        return float(self.arrays.penalty_cost)

    @functools.cached_property
    def transposed(self) -> sp.csr_matrix:
        return sp.csr_matrix(self.detection.T)

    def level_range(self) -> tuple[float, float]:
        """The range of the shared level: [max_i F_lo_i, the smallest cap]."""
        return float(np.max(self.least, initial=0.0)), float(self.cap[0]) if self.cap.size else 0.0


def design_of(arrays: ProblemArrays) -> Design | str:
    """The problem's numbers, or why no policy exists (an action no allowed penalty deters)."""
    need = deterrence_need(arrays)
    paying = np.flatnonzero(need > 0)
    rows = arrays.detection[arrays.deviations[paying]].tocsr()
    reach = np.minimum(1.0, np.asarray(rows @ arrays.max_rate, dtype=float))
    with np.errstate(divide="ignore"):
        least = np.where(reach > 0, need[paying] / reach, np.inf)
    cap = penalty_ceiling(arrays)[paying]
    design = Design(
        arrays, paying, need[paying], rows, least, cap, arrays.penalty_design == "shared"
    )
    blocked = least > cap
    if design.shared:
        blocked = least > design.level_range()[1]
    if np.any(blocked):
        name = arrays.action_names[arrays.deviations[paying[int(np.argmax(blocked))]]]
        return f"no allowed penalty and rates deter {name}"
    return design


@dataclass(frozen=True)
class Multipliers:
    """y (one per paying action) and nu (the budget), in the model's units."""

    rows: FloatArray
    budget: float = 0.0


@dataclass(frozen=True)
class Bound:
    """A lower bound on the least cost, the multipliers it came from and the penalties that
    minimise their Lagrangian (where the next rate LP is solved)."""

    value: float
    multipliers: Multipliers
    penalties: FloatArray  # paying actions


def _least_penalty_cost(
    a: float, beta: FloatArray, low: FloatArray, high: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """min over F in [low, high] of a F + beta / F, and the minimiser (elementwise)."""
    beta = np.maximum(beta, 0.0)
    if a <= 0:
        return beta / high, high.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        best = np.clip(np.sqrt(beta / a), low, high)
        value = a * best + np.where(beta > 0, beta / best, 0.0)
    return value, best


def lower_bound(design: Design, multipliers: Multipliers) -> Bound:
    """The Lagrangian bound of the module docstring, less the round-off of its sums."""
    arrays = design.arrays
    y = np.maximum(np.asarray(multipliers.rows, dtype=float), 0.0)
    nu = max(float(multipliers.budget), 0.0) if arrays.budget is not None else 0.0
    reduced = (1.0 + nu) * arrays.cost - np.asarray(design.transposed @ y, dtype=float)
    at = np.where(reduced >= 0, arrays.min_rate, arrays.max_rate)
    rate_terms = reduced * at
    beta = y * design.need
    a = design.penalty_cost
    if not design.need.size:  # nothing pays: no penalty is needed
        value, penalties = np.zeros(0), np.zeros(0)
    elif design.shared:
        low, top = design.level_range()
        value, best = _least_penalty_cost(
            a, np.array([beta.sum()]), np.array([low]), np.array([top])
        )
        penalties = np.full(design.need.shape, float(best[0]))
    else:
        value, penalties = _least_penalty_cost(a, beta, design.least, design.cap)
    budget_term = -nu * float(arrays.budget) if arrays.budget is not None else 0.0
    terms = np.concatenate([rate_terms, value, [budget_term]])
    # Round-off of the sums and of each term (a few ulps of what is summed), taken off.
    size = float(np.sum(np.abs(terms))) + float(np.abs(at) @ np.abs(reduced))
    total = float(np.sum(terms)) - ROUND_OFF * size
    # Every cost is nonnegative (c, a, x, F >= 0): 0 is a bound too.
    return Bound(max(total, 0.0), Multipliers(y, nu), penalties)


@dataclass(frozen=True)
class RatePolicy:
    """LP(F) solved: the rates (rounded outward), the penalties (raised where a row was
    short), the cost, and the LP's multipliers."""

    rates: FloatArray
    penalties: FloatArray  # paying actions
    cost: float
    multipliers: Multipliers


def rate_lp(design: Design, penalties: FloatArray) -> RatePolicy | None:
    """LP(F) at ``penalties`` (paying actions), or None when HiGHS finds no answer."""
    arrays = design.arrays
    low, high, cost = arrays.min_rate, arrays.max_rate, arrays.cost
    m = arrays.n_monitors
    need = design.need / penalties  # b_i
    if np.any(need > 1.0) or not np.all(np.isfinite(need)):
        return None
    q = design.detection
    # Units: each monitor's rate in the least rate at which it alone meets a row it
    # serves (capped by its ceiling), each row divided by its need.
    unit = np.asarray(high, dtype=float).copy()
    coo = q.tocoo()
    for i, j, v in zip(coo.row, coo.col, coo.data, strict=True):
        if v > 0:
            unit[j] = min(unit[j], need[i] / v)
    unit = np.where(unit > 0, unit, np.where(high > 0, high, 1.0))
    a_rows = sp.diags(1.0 / need) @ q @ sp.diags(unit) if need.size else None
    objective = cost * unit
    objective_scale = float(np.max(np.abs(objective), initial=0.0)) or 1.0
    blocks = []
    rhs = []
    if a_rows is not None:
        blocks.append(-a_rows)
        rhs.append(-np.ones(need.size))
    budget_scale = 1.0
    if arrays.budget is not None:
        # 1e-9 of room under the budget, as the core program keeps; the row divided by
        # its right-hand side (HiGHS's tolerance is absolute).
        budget_scale = arrays.budget * (1 - 1e-9)
        if budget_scale <= 0:
            budget_scale = float(np.max(np.abs(objective), initial=0.0)) or 1.0
        blocks.append(sp.csr_matrix(objective / budget_scale))
        rhs.append(np.array([arrays.budget * (1 - 1e-9) / budget_scale]))
    bounds = np.column_stack([low / unit, high / unit])
    result = solve_linear(
        objective / objective_scale,
        sp.vstack(blocks).tocsr() if blocks else None,
        np.concatenate(rhs) if rhs else None,
        bounds=bounds,
        options=HIGHS_OPTIONS,
    )
    if not result.optimal or result.x is None:
        return None
    rates = np.clip(np.asarray(result.x, dtype=float) * unit, low, high)
    if arrays.budget is not None and float(cost @ rates) > arrays.budget:
        return None  # beyond the budget by more than the LP's tolerance: no answer here
    marginals = result.ineq_marginals if blocks else np.zeros(0)
    y = -marginals[: need.size] * objective_scale / need if need.size else np.zeros(0)
    nu = 0.0
    if arrays.budget is not None:
        nu = -float(marginals[-1]) * objective_scale / budget_scale
    rates, chosen = _outward(design, rates, penalties)
    assert rates.size == m
    cost_total = float(cost @ rates) + _penalty_cost(design, chosen)
    return RatePolicy(rates, chosen, cost_total, Multipliers(np.maximum(y, 0.0), max(nu, 0.0)))


def _outward(
    design: Design, rates: FloatArray, penalties: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The LP's policy made to hold exactly: each row is met to HiGHS's tolerance, and
    P_i F_i = k_i in float can be short in exact arithmetic. A row whose penalty can rise
    (below its cap; a shared level below the smallest cap) is closed by raising the penalty
    to k_i / P_i (1 + OUTWARD), which costs a times that; the monitors of the other rows
    that are tight or short are raised by four times the largest shortfall plus OUTWARD
    (within their ceilings and the budget). Rates at their floors stay there when the
    penalty can close the row."""
    arrays = design.arrays
    paying_rows = arrays.deviations[design.paying]
    detection = detection_probability(arrays, rates)[paying_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        short = design.need / (penalties * detection) - 1.0
    short = np.where(np.isfinite(short), short, np.inf)
    room = (1.0 + np.maximum(short, 0.0) + 2 * OUTWARD) * penalties <= design.cap
    if design.shared:
        room[:] = bool(np.all(room))
    stuck = ~room & (short > -OUTWARD)  # rows only the rates can close
    shortfall = float(np.max(short[stuck], initial=0.0))
    if np.any(stuck) and shortfall <= REPAIRABLE:
        serves = np.asarray(abs(design.detection[np.flatnonzero(stuck)]).sum(axis=0)).ravel() > 0
        factor = np.where(serves, 1.0 + 4.0 * shortfall + OUTWARD, 1.0)
        raised = np.minimum(rates * factor, arrays.max_rate)
        if arrays.budget is None or float(arrays.cost @ raised) <= arrays.budget:
            rates = np.asarray(raised)
            detection = detection_probability(arrays, rates)[paying_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        least = np.where(detection > 0, design.need / detection * (1.0 + OUTWARD), np.inf)
    # Never above a cap, not even by the ulp a scaled LP bound can leave (a hard limit).
    chosen = np.minimum(np.maximum(penalties, np.minimum(least, design.cap)), design.cap)
    if design.shared and chosen.size:
        chosen = np.full_like(chosen, float(chosen.max()))
    return rates, chosen


def _penalty_cost(design: Design, penalties: FloatArray) -> float:
    if not penalties.size:
        return 0.0
    level = float(penalties.max()) if design.shared else float(penalties.sum())
    return design.penalty_cost * level


def all_penalties(design: Design, penalties: FloatArray) -> FloatArray:
    """One penalty per action: the compliant entry is the false-positive penalty; an action
    that does not pay gets 0 (per action) or the shared level."""
    arrays = design.arrays
    out = np.zeros(arrays.n_actions)
    out[arrays.compliant] = arrays.false_positive_penalty
    dev_penalties = np.zeros(arrays.deviations.size)
    if design.shared:
        dev_penalties[:] = float(penalties.max()) if penalties.size else 0.0
    dev_penalties[design.paying] = penalties
    out[arrays.deviations] = dev_penalties
    return out


@dataclass
class Search:
    """The policies and multipliers found so far."""

    design: Design
    best: RatePolicy | None = None
    multipliers: list[Multipliers] = field(default_factory=list)
    tried: list[FloatArray] = field(default_factory=list)
    bound: Bound | None = None

    def evaluate(self, penalties: FloatArray, corners: bool = True) -> None:
        """Solve LP(F) at ``penalties`` and keep its policy and multipliers; then (unless
        ``corners`` is False) LP(F) at the corners found next to it (_lowered, _snapped)."""
        design = self.design
        if design.shared:
            low, top = design.level_range()
            level = min(max(float(np.max(penalties, initial=low)), low), top)
            penalties = np.full(design.need.shape, level)
        else:
            penalties = np.clip(penalties, design.least, design.cap)
        if any(np.allclose(penalties, t, rtol=1e-13, atol=0.0) for t in self.tried):
            return
        self.tried.append(penalties)
        policy = rate_lp(self.design, penalties)
        if policy is None and self.best is not None:
            policy = self._nearest_feasible(penalties, self.best.penalties)
        if policy is None:
            return
        self.multipliers.append(policy.multipliers)
        if self.best is None or policy.cost < self.best.cost:
            self.best = policy
        stationary = _stationary_multipliers(self.design, policy)
        if stationary is not None:
            self.multipliers.append(stationary)
        if not corners:
            return
        for corner in (_lowered(self.design, policy), _snapped(self.design, policy)):
            if corner is not None:
                self.evaluate(corner, corners=False)

    def _nearest_feasible(self, wanted: FloatArray, feasible: FloatArray) -> RatePolicy | None:
        """The rate LP nearest ``wanted`` on the path F_best^t wanted^(1 - t) that has an
        answer (bisection on t: a budget that binds makes LP(F) infeasible past a point)."""
        lo, hi = 0.0, 1.0  # t = 1: the feasible penalties
        found = None
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            policy = rate_lp(self.design, feasible**mid * wanted ** (1 - mid))
            if policy is None:
                lo = mid
            else:
                hi, found = mid, policy
        return found

    def tighten(self) -> Bound | None:
        """The best bound from the multipliers found, and along segments between them."""
        bounds = [lower_bound(self.design, mu) for mu in self.multipliers]
        if not bounds:
            return None
        self.bound = max(bounds, key=lambda b: b.value)
        if self.gap() <= TARGET_GAP:  # closed: the searches below cannot matter
            return self.bound
        if self.design.arrays.budget is not None:
            bounds += [_best_with_budget(self.design, mu) for mu in self.multipliers]
        best = max(bounds, key=lambda b: b.value)
        for other in self.multipliers:
            candidate = _best_on_segment(self.design, best.multipliers, other)
            if candidate.value > best.value:
                best = candidate
        self.bound = best
        return best

    def gap(self) -> float:
        if self.best is None or self.bound is None:
            return math.inf
        return (self.best.cost - self.bound.value) / max(abs(self.best.cost), 1e-300)


def _lowered(design: Design, policy: RatePolicy) -> FloatArray | None:
    """Where penalties cost something and a row is slack at the LP's rates (rates held at
    their floors detect more than the penalty needs), the penalties lowered to what those
    rates already deter, k_i / P_i(x): the corner of LP(F) where its basis changes, at
    which the least cost often sits (a monitor's floor). None when every row is tight."""
    if design.penalty_cost <= 0 or not policy.penalties.size:
        return None
    arrays = design.arrays
    detection = detection_probability(arrays, policy.rates)[arrays.deviations[design.paying]]
    with np.errstate(divide="ignore", invalid="ignore"):
        tight = np.where(detection > 0, design.need / detection, np.inf)
    if design.shared:
        tight = np.full_like(tight, float(tight.max()))
    slack = policy.penalties > tight * (1 + 1e-9)
    if not np.any(slack):
        return None
    return np.asarray(np.where(slack, tight, policy.penalties))


def _snapped(design: Design, policy: RatePolicy) -> FloatArray | None:
    """Where penalties cost something and a rate sits a hair above a positive floor (within
    SNAP of it), the rates at their floors and the penalties raised to k_i / P_i there: the
    same corner of LP(F) approached from the other side. None when no rate is that close."""
    if design.penalty_cost <= 0 or not policy.penalties.size:
        return None
    arrays = design.arrays
    low = arrays.min_rate
    near = (low > 0) & (policy.rates > low) & (policy.rates - low <= SNAP * policy.rates)
    if not np.any(near):
        return None
    rates = np.where(near, low, policy.rates)
    detection = detection_probability(arrays, rates)[arrays.deviations[design.paying]]
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(detection > 0, design.need / detection, np.inf)
    raised = np.maximum(policy.penalties, needed)
    if design.shared:
        raised = np.full_like(raised, float(raised.max()))
    if not np.all(raised <= design.cap):
        return None
    return np.asarray(raised)


def _stationary_multipliers(design: Design, policy: RatePolicy) -> Multipliers | None:
    """The row multipliers a penalty strictly inside its range must have at an optimum:
    d/dF (a F + y k / F) = 0, y = a F^2 / k (shared: the level's, spread over the rows in
    proportion to the LP's multipliers)."""
    a = design.penalty_cost
    if a <= 0 or not policy.penalties.size:
        return None
    y = policy.multipliers.rows.copy()
    f = policy.penalties
    if design.shared:
        low, top = design.level_range()
        level = float(f.max())
        if not low * (1 + 1e-9) < level < top * (1 - 1e-9):
            return None
        beta = float(y @ design.need)
        target = a * level * level
        if beta > 0:
            y = y * (target / beta)
        else:
            return None
        return Multipliers(y, policy.multipliers.budget)
    inside = (f > design.least * (1 + 1e-9)) & (f < design.cap * (1 - 1e-9))
    if not np.any(inside):
        return None
    y[inside] = a * f[inside] ** 2 / design.need[inside]
    return Multipliers(y, policy.multipliers.budget)


def _best_with_budget(design: Design, base: Multipliers) -> Bound:
    """The best bound along (s y, s (1 + nu) - 1), s >= 1 / (1 + nu): the budget's multiplier
    raised with the rows' in proportion. An LP whose budget is slack at the penalties tried
    has nu = 0, while at the least cost the budget binds; this is the Lagrangian relaxation
    of the budget along the LP's own direction (golden section on log s: the bound is
    concave in s)."""
    start = 1.0 / (1.0 + base.budget)

    def at(log_s: float) -> Bound:
        scale = start * math.exp(log_s)
        return lower_bound(
            design, Multipliers(base.rows * scale, max(scale * (1.0 + base.budget) - 1.0, 0.0))
        )

    high = 1.0
    while high < 200 and at(high).value > at(high / 2).value:
        high *= 2
    return _golden(at, 0.0, high)


def _golden(at: Callable[[float], Bound], lo: float, hi: float) -> Bound:
    """The best bound found by golden-section search of a unimodal ``at`` on [lo, hi]
    (every point tried is itself a valid bound)."""
    ratio = (math.sqrt(5) - 1) / 2
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fc, fd = at(c), at(d)
    best = max((at(lo), at(hi), fc, fd), key=lambda b: b.value)
    for _ in range(SEGMENT_STEPS):
        if fc.value >= fd.value:
            hi, d, fd = d, c, fc
            c = hi - ratio * (hi - lo)
            fc = at(c)
            best = fc if fc.value > best.value else best
        else:
            lo, c, fc = c, d, fd
            d = lo + ratio * (hi - lo)
            fd = at(d)
            best = fd if fd.value > best.value else best
    return best


def _best_on_segment(design: Design, first: Multipliers, second: Multipliers) -> Bound:
    """The best bound on the segment between two multipliers (golden section: the bound is
    concave in them); every point tried is itself a valid bound."""

    def at(t: float) -> Bound:
        return lower_bound(
            design,
            Multipliers(
                (1 - t) * first.rows + t * second.rows,
                (1 - t) * first.budget + t * second.budget,
            ),
        )

    return _golden(at, 0.0, 1.0)


def convex_multipliers(design: Design) -> DetectionDuals | None:
    """The detection program's answer for ``design`` (``formulation/penalty_detection.py``)."""
    arrays = design.arrays
    return detection_program_duals(
        arrays.cost,
        design.detection,
        design.need,
        design.cap,
        design.penalty_cost,
        arrays.min_rate,
        arrays.max_rate,
        arrays.budget,
        shared=design.shared,
    )


def _convex_start(search: Search) -> None:
    """The multipliers and penalties of the design written in its detections
    (``formulation/penalty_detection.py``, a convex program with no duality gap): where the
    LPs' multipliers and the stationary ones leave the bound short (a degenerate LP(F), whose
    multipliers at the optimal penalties are one of many: penalty_design-400108 stopped at a
    gap of 5e-4 after 33 LPs), its multipliers close it. The bound is recomputed from them
    exactly (``lower_bound``) and LP(F) is solved at its penalties; nothing it says is
    taken on trust."""
    design = search.design
    duals = convex_multipliers(design)
    if duals is None or not np.all(np.isfinite(duals.rows)) or not np.isfinite(duals.budget):
        return
    search.multipliers.append(Multipliers(duals.rows, duals.budget))
    with np.errstate(divide="ignore", invalid="ignore"):
        penalties = design.need / np.maximum(duals.detection, 1e-300)
    if np.all(np.isfinite(penalties)):
        search.evaluate(np.minimum(penalties, design.cap))
    search.tighten()


@dataclass(frozen=True)
class Polished:
    """A verified and certified policy (rates, penalties per action, verification with the
    certificate), or why there is none."""

    answer: tuple[FloatArray, FloatArray, Verification] | None
    failure: str = ""
    steps: int = 0  # rate LPs solved


def polish(
    arrays: ProblemArrays, start: FloatArray | None = None, tolerance: float = TOLERANCE
) -> Polished:
    """The least-cost policy by rate LPs and the Lagrangian bound (module docstring).

    ``start``: penalties to try first (one per action, e.g. the cone program's); the caps
    are tried too unless the start alone closes the gap."""
    design = design_of(arrays)
    if isinstance(design, str):
        return Polished(None, design)
    search = Search(design)
    if start is not None:
        guess = np.asarray(start, dtype=float)[arrays.deviations][design.paying]
        if np.all(np.isfinite(guess)) and np.all(guess > 0):
            search.evaluate(guess)
            search.tighten()
    if search.gap() > TARGET_GAP:
        search.evaluate(design.cap.copy())
        search.tighten()
    if search.gap() > TARGET_GAP:
        _convex_start(search)
        previous = math.inf
        for _ in range(MAX_STEPS):
            bound = search.tighten()
            gap = search.gap()
            if bound is None or gap <= TARGET_GAP or (gap <= STALLED_GAP and gap > previous / 2):
                break
            previous = gap
            before = len(search.tried)
            search.evaluate(bound.penalties)
            if len(search.tried) == before:  # nothing new to try
                break
    # Closed, but the cost is flat at an interior optimum (quadratic in F): one more LP at
    # the penalties minimising the bound's Lagrangian makes them exact as well.
    if (
        search.bound is not None
        and search.best is not None
        and not np.allclose(search.bound.penalties, search.best.penalties, rtol=1e-12, atol=0)
    ):
        search.evaluate(search.bound.penalties)
        search.tighten()
    steps = len(search.tried)
    best = search.best
    if best is None or search.bound is None:
        return Polished(None, "no rate LP at the penalties tried had an answer", steps)
    penalties = all_penalties(design, best.penalties)
    total = float(arrays.cost @ best.rates) + penalty_cost_of(arrays, penalties[arrays.deviations])
    verification = verify_policy(arrays, best.rates, total, tolerance, penalties=penalties)
    if not verification.passed:
        return Polished(
            None,
            f"the policy of the rate LPs failed verification ({verification.failure()})",
            steps,
        )
    certificate = certificate_of(total, search.bound.value)
    if not certificate.passed:
        return Polished(None, f"no certificate ({certificate.reason})", steps)
    return Polished((best.rates, penalties, replace(verification, duality=certificate)), "", steps)


def certificate_of(
    cost: float, bound: float, tolerance: float = GAP_TOLERANCE
) -> DualityCertificate:
    """The policy's cost against the Lagrangian lower bound (kind ``penalty_duality``)."""
    gap = cost - bound
    relative = max(gap, 0.0) / abs(cost) if cost != 0 else (0.0 if gap <= 0 else math.inf)
    passed = bool(relative <= tolerance)
    reason = (
        "cost within tolerance of the Lagrangian lower bound"
        if passed
        else f"relative gap {relative:.3g} to the Lagrangian lower bound (tolerance {tolerance:g})"
    )
    return DualityCertificate(
        applies=True,
        passed=passed,
        tolerance=tolerance,
        primal_objective=cost,
        dual_objective=bound,
        gap=gap,
        relative_gap=relative,
        reason=reason,
        kind="penalty_duality",
    )
