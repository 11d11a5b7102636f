"""Exponential detection with false flags: the least cost by spatial branch-and-bound.

The false-flag probability P_0 = g(s) = 1 - exp(-s), s = phi x, enters the incentive rows
with a minus sign, so the model is not convex; but it is convex once g is replaced by a line
(``formulation/flag_nodes.py``), and g depends on x through one number. So the
search branches on s (McCormick-style spatial branch-and-bound: Horst and Tuy, *Global
Optimization: Deterministic Approaches*, 1996, ch. IV; Falk and Soland, "An algorithm for
separable nonconvex programming problems", Management Science 15(9), 1969):

* on a box [a, b] of s, the program with the secant of g (below g) is a relaxation. Its
  solution is not trusted as a bound: the box's bound is a Lagrangian (weak-duality) bound
  of a *linear* relaxation, the secant row and the concave rows' tangents at the node's
  point (each above the concave row, so still a relaxation), evaluated in exact arithmetic
  in the user's units (``infeasibility.least_cost_bound``), valid whatever the solver's
  error; a box Clarabel calls infeasible is dropped only with the exactly checked Farkas
  certificate of ``infeasibility.py`` for that box, else split (or left open);
* the program with the tangent of g at the relaxation's s (above g) is a restriction: its
  solution deters under the exact model; so may the relaxation's own point. Each candidate
  is verified against the model (``verify.py``, exact P_0) before it counts;
* boxes are split at the relaxation's s (or their middle) and taken lowest bound first,
  until the best verified cost is within :data:`GAP` of the lowest open bound: the answer
  is then the least cost, to that gap, and says so. The secant's error on a box of width
  h is at most h^2 e^{-a} / 8, so boxes around the optimum shrink it quadratically.

When the node or time limit ends the search first, the answer is not called least cost
(``solver_error`` with the proven bounds). "Infeasible" is never concluded here: only a
certificate checked in exact arithmetic (``infeasibility.py``) says it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from ..formulation.components.deterrence import incentive_rows, incentive_shadow_prices
from ..formulation.flag_nodes import (
    BoundDuals,
    FlagRows,
    NodeProgram,
    NodeSolve,
    bound_duals,
    false_flags_couple,
    node_program,
    release,
)
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from ..results.result import Duals, Verification
from .certificate import conic_certificate
from .duals import floats_of
from .infeasibility import (
    System,
    box_relaxation,
    build_system,
    certify_system,
    costing_at_most,
    least_cost_bound,
)
from .verify import (
    SLACK_PRICED,
    TOLERANCE,
    evaluate_policy,
    margin_in_utility,
    verify_policy,
)

#: The certified relative gap: the answer is called least cost when its cost is within this
#: fraction of the proven lower bound (the 1e-6 every cost is trusted to elsewhere).
GAP = 1e-6
#: The limit on one search, in boxes solved. No wall-clock limit by default: where a search
#: stops must not depend on the machine's load, or the same spec would be answered
#: differently by two runs (and a batch's --resume would solve it again); a batch's
#: --timeout still bounds a file's time.
NODE_LIMIT = 400
EPS = float(np.finfo(float).eps)

applies = false_flags_couple


def flag_probability(s: float) -> float:
    """g(s) = 1 - exp(-s)."""
    return -math.expm1(-s)


def secant(a: float, b: float) -> tuple[float, float]:
    """(slope, intercept) of a line below g on [a, b]: the secant, lowered by its round-off."""
    if b - a <= 1e-300 or not math.isfinite(b):
        slope = math.exp(-a) if math.isfinite(a) else 0.0
        intercept = flag_probability(a) - slope * a
        return slope, intercept - 8 * EPS * (1.0 + abs(slope * a))
    # (g(b) - g(a)) / (b - a) = e^{-a} (1 - e^{-(b-a)}) / (b - a), without cancellation
    slope = math.exp(-a) * -math.expm1(-(b - a)) / (b - a)
    intercept = flag_probability(a) - slope * a
    return slope, intercept - 8 * EPS * (1.0 + abs(slope * a) + abs(slope * b))


def tangent(t: float) -> tuple[float, float]:
    """(slope, intercept) of a line above g everywhere: the tangent at t, raised by its
    round-off (1 - e^{-s} <= 1 - e^{-t} + e^{-t} (s - t))."""
    slope = math.exp(-t)
    intercept = flag_probability(t) - slope * t
    return slope, intercept + 8 * EPS * (1.0 + abs(slope * t))


@dataclass(frozen=True)
class Incumbent:
    rates: FloatArray
    cost: float
    verification: Verification


@dataclass(frozen=True)
class Search:
    """What the search proved: the best verified policy (None if none was found), the lowest
    bound on the least cost (inf: every box's relaxation was infeasible), and whether the
    gap closed."""

    best: Incumbent | None
    lower_bound: float
    nodes: int
    closed: bool
    failures: int  # boxes whose relaxation the solver could not answer or prove

    @property
    def gap(self) -> float:
        if self.best is None:
            return math.inf
        return max(0.0, self.best.cost - self.lower_bound)

    def describe(self) -> str:
        if self.best is None:
            return f"branch-and-bound on P_0: no verified policy in {self.nodes} boxes"
        return (
            f"branch-and-bound on P_0: {self.nodes} boxes, least cost in "
            f"[{self.lower_bound:.10g}, {self.best.cost:.10g}]"
        )


def search(
    arrays: ProblemArrays,
    tolerance: float = TOLERANCE,
    node_limit: int | None = None,
    time_limit: float | None = None,
) -> Search:
    """The least-cost policy of exponential detection with false flags, to a certified gap
    (limits: :data:`NODE_LIMIT` boxes unless given, and ``time_limit`` seconds if given)."""
    rows = FlagRows.of(arrays)
    program = node_program(arrays, rows)
    nodes = NODE_LIMIT if node_limit is None else node_limit
    seconds = math.inf if time_limit is None else time_limit
    try:
        return _search(arrays, rows, program, tolerance, nodes, seconds)
    finally:
        release(program)


def _search(
    arrays: ProblemArrays,
    rows: FlagRows,
    program: NodeProgram,
    tolerance: float,
    node_limit: int,
    time_limit: float,
) -> Search:
    began = time.perf_counter()
    start, end = rows.flags(arrays.min_rate), rows.flags(arrays.max_rate)
    # round the range of s outward: every allowed policy has s in it
    start, end = max(0.0, start * (1 - 4 * EPS)), end * (1 + 4 * EPS)
    system = build_system(arrays)  # the model's linear relaxation (infeasibility.py)

    def box(a: float, b: float, points: list[FloatArray]) -> System:
        # only the policies cheaper than the incumbent (or within the budget) matter: their
        # rates are capped by that cost, which keeps the bound's room for rounded
        # coefficients in scale with the least cost (costing_at_most)
        relaxed = box_relaxation(system, a, b, a <= start, b >= end, points)
        return costing_at_most(relaxed, arrays.cost, ceiling())

    def ceiling() -> float:
        most = math.inf if arrays.budget is None else float(arrays.budget)
        return most if best is None else min(most, best.cost)

    def bound_of(a: float, b: float, points: list[FloatArray]) -> float | None:
        # A box whose linear relaxation HiGHS calls infeasible although the node's convex
        # relaxation has a point (a box 1e-12 of s wide around the optimum's s: the rows
        # s >= a, s <= b within its tolerance of each other) gets the bound of a wider box,
        # still a relaxation of it: weaker by about the widening, 1e-9 of s.
        value = least_cost_bound(box(a, b, points), arrays.cost)
        for factor in BOUND_WIDENINGS:
            if value is not None:
                break
            pad = factor * max(abs(b), b - a)
            value = least_cost_bound(box(max(0.0, a - pad), b + pad, points), arrays.cost)
        return value

    best: Incumbent | None = None
    nodes = failures = 0
    settled = math.inf  # the least bound of the boxes closed by the incumbent
    # open boxes: (lower bound, tie-break, a, b); a failed relaxation keeps its parent's bound
    heap: list[tuple[float, int, float, float]] = [(-math.inf, 0, start, end)]
    counter = 1

    def offer(rates: FloatArray | None) -> None:
        if rates is None or not np.all(np.isfinite(rates)):
            return
        polished = polish(arrays, rows, rates)
        if polished is not None:
            offer_one(polished)
        offer_one(rates)

    def offer_one(rates: FloatArray) -> None:
        nonlocal best
        for candidate in _outward(arrays, rates):
            cost = float(arrays.cost @ candidate)
            if best is not None and cost >= best.cost:
                return
            verification = verify_policy(arrays, candidate, cost, tolerance)
            if verification.passed:
                best = Incumbent(candidate, cost, verification)
                return

    def closed() -> bool:
        if best is None:
            return not heap
        if not heap:
            return True
        return heap[0][0] >= best.cost - GAP * max(abs(best.cost), 1e-300)

    while heap and not closed():
        if nodes >= node_limit or time.perf_counter() - began > time_limit:
            break
        bound, _, a, b = heapq.heappop(heap)
        nodes += 1
        relaxed = _relax(program, a, b)
        # the box's bound: weak duality on its linear relaxation, tangents at the node's point
        points = [] if relaxed.rates is None else [relaxed.rates]
        proven = bound_of(a, b, points) if relaxed.solved else None
        if (
            proven is None
            and (relaxed.solved or relaxed.infeasible)
            and certify_system(box(a, b, points)) is not None
        ):
            continue  # proven in exact arithmetic: no policy has s in [a, b]
        if proven is None:
            # unanswered, or called infeasible without a certificate: split (the parent's
            # bound holds for both halves), unless too narrow (then it stays open)
            failures += 1
            if b - a > 1e-12 * max(1.0, abs(b)):
                middle = 0.5 * (a + b)
                for lo, hi in ((a, middle), (middle, b)):
                    heapq.heappush(heap, (bound, counter, lo, hi))
                    counter += 1
            else:
                heapq.heappush(heap, (bound, counter, a, b))
                counter += 1
                if heap[0][2] == a and heap[0][3] == b:
                    break
            continue
        lower = max(bound, proven)
        offer(relaxed.rates)
        s = relaxed.flags if relaxed.flags is not None else 0.5 * (a + b)
        s = min(max(s, a), b)
        restricted = program.solve(a, b, *tangent(s))
        if restricted.solved:
            offer(restricted.rates)
        if best is not None and lower >= best.cost - GAP * abs(best.cost):
            settled = min(settled, lower)  # this box cannot hold a cheaper policy
            continue
        if b - a <= 1e-13 * max(1.0, abs(b)):
            failures += 1  # too narrow to split: its bound stays open
            heapq.heappush(heap, (lower, counter, a, b))
            counter += 1
            if heap[0][2] == a and heap[0][3] == b:
                break
            continue
        edges = [a, *_splits(a, b, s, restricted.flags, best), b]
        for lo, hi in itertools.pairwise(edges):
            heapq.heappush(heap, (lower, counter, lo, hi))
            counter += 1
    lowest = min(heap[0][0] if heap else math.inf, settled)
    if best is not None:
        lowest = min(lowest, best.cost)
    return Search(best, lowest, nodes, closed(), failures)


#: How far a box's linear relaxation is widened (relative to s) when HiGHS finds it
#: infeasible while the node's convex relaxation has a point.
BOUND_WIDENINGS = (1e-9, 1e-7)

#: How far a box is widened (relative to its width, and absolutely) when the solver cannot
#: answer its relaxation: a box whose only policies sit at one end (the parent's optimum)
#: has no interior, which an interior-point solver needs; the relaxation of a wider box,
#: with its own secant, still bounds every policy of the narrower one.
WIDENINGS = (1e-7, 1e-5, 1e-3)


def _relax(program: NodeProgram, a: float, b: float) -> NodeSolve:
    relaxed = program.solve(a, b, *secant(a, b))
    width = max(b - a, 1e-9 * max(1.0, abs(b)))
    for factor in WIDENINGS:
        if relaxed.solved or relaxed.infeasible:
            break
        lo, hi = max(0.0, a - factor * width), b + factor * width
        relaxed = program.solve(lo, hi, *secant(lo, hi))
    return relaxed


#: Relative steps by which a solved policy is moved outward until verification passes (the
#: model's rows must hold exactly; the solver meets a binding row to about 1e-11).
STEPS = (0.0, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7)
#: Rates at most this fraction of the largest one are also tried at their floors.
SNAP = 1e-6


def _outward(arrays: ProblemArrays, rates: FloatArray) -> list[FloatArray]:
    """``rates`` within their bounds, then raised by each of :data:`STEPS`: scaled up, and
    moved toward the ceilings (a row held by false flags may fall as its own rate rises, but
    then another rate carries it); cheapest first, none over the budget."""
    lower, upper = arrays.min_rate, arrays.max_rate
    base = np.clip(rates, lower, upper)
    # an interior-point solver leaves rates that belong at their floors a hair above them
    # (1e-13 where nothing needs monitoring): those snapped to the floors first
    largest = float(np.max(base, initial=0.0))
    snapped = np.where(base <= SNAP * largest, lower, base)
    candidates = [np.asarray(lower, dtype=float).copy(), snapped, base]
    for step in STEPS[1:]:
        candidates.append(np.clip(base * (1 + step), lower, upper))
        candidates.append(np.clip(base + step * (upper - base), lower, upper))
    if arrays.budget is not None:
        candidates = [c for c in candidates if float(arrays.cost @ c) <= arrays.budget]
    return sorted(candidates, key=lambda c: float(arrays.cost @ c))


#: A row is taken as binding at a solver's point when its slack is within this fraction of
#: its terms (Clarabel leaves the rows of a least cost of 3e-6 about 1e-5 of themselves off).
BINDING = 1e-3
#: Newton steps of :func:`polish`.
NEWTON_STEPS = 30


def polish(arrays: ProblemArrays, rows: FlagRows, rates: FloatArray) -> FloatArray | None:
    """``rates`` moved onto the rows that bind there, by Newton's method on the model's own
    rows w_i P_i(x) - v_i P_0(x) = n_i (P by expm1, no cancellation), the rates at their
    bounds held: the vertex the solver's point approximates. Clarabel's point is accurate
    to about 1e-11 in the rows' absolute units, which for a least cost of 3e-6 is 1e-5 of
    itself, more than the 1e-6 gap the search must close (exponential_fp-500045: the
    best verified cost stayed 1.3e-6 above the proven bound). The result is only a
    candidate: verified against the model like any other (None if Newton does not settle
    or leaves the bounds)."""
    lower = np.asarray(arrays.min_rate, dtype=float)
    upper = np.asarray(arrays.max_rate, dtype=float)
    x = np.clip(np.asarray(rates, dtype=float), lower, upper)
    largest = float(np.max(x, initial=0.0))
    x = np.where(x <= SNAP * largest, lower, x)
    span = np.maximum(upper - lower, 1e-300)
    free = (x - lower > 1e-9 * span) & (upper - x > 1e-9 * span)
    intensity = np.asarray(rows.intensity, dtype=float)
    weight = np.asarray(rows.weight, dtype=float)
    flag_weight = np.asarray(rows.flag_weight, dtype=float)
    need = np.asarray(rows.need, dtype=float)
    phi = np.asarray(rows.flag_intensity, dtype=float)

    def terms(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        caught = weight * -np.expm1(-(intensity @ z))
        flagged = flag_weight * -np.expm1(-float(phi @ z))
        return caught - flagged - need, caught, flagged

    residual, caught, flagged = terms(x)
    size = np.abs(caught) + np.abs(flagged) + np.abs(need)
    binding = np.isfinite(residual) & (np.abs(residual) <= BINDING * size) & (size > 0)
    if not (np.any(binding) and np.any(free)):
        return None
    for _ in range(NEWTON_STEPS):
        residual = terms(x)[0][binding]
        slope = weight[:, None] * intensity * np.exp(-(intensity @ x))[:, None]
        slope = slope - flag_weight[:, None] * phi[None, :] * math.exp(-float(phi @ x))
        jacobian = slope[binding][:, free]
        if not np.all(np.isfinite(jacobian)):
            return None
        step = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
        x = x.copy()
        x[free] += step
        if not (np.all(np.isfinite(x)) and np.all(x >= lower) and np.all(x <= upper)):
            return None
        if np.all(np.abs(step) <= 4 * EPS * np.abs(x[free])):
            break
    return x


def _splits(
    a: float, b: float, relaxed: float, restricted: float | None, best: Incumbent | None
) -> list[float]:
    """Where to split [a, b]: at the restriction's s, a policy that deters (the secant is
    exact at a box's ends, so boxes ending at the optimum's s bound it tightly), else at the
    relaxation's (whose s is often the edge of the relaxed feasible set: a box ending there
    holds one point, which an interior-point solver cannot answer), else in the middle."""
    width = b - a
    for point in (restricted, relaxed):
        if point is not None and a + 0.001 * width < point < b - 0.001 * width:
            return [point]
    return [0.5 * (a + b)]


@dataclass(frozen=True)
class Prices:
    """The answer's shadow prices (d(least cost)/d(gain) per action) when certified, else
    None; and what was checked, or why they are not given. ``duals`` are the multipliers
    of every row in the model's units (``Result.duals``: what ``explain`` prices the budget,
    floors, ceilings and caps with), given when the prices are and none of them prices a
    floor, ceiling or budget slack at the answer; else None, and ``duals_reason`` says why."""

    shadow: dict[str, float] | None
    reason: str
    duals: Duals | None = None
    duals_reason: str = ""


def certified_prices(arrays: ProblemArrays, incumbent: Incumbent) -> Prices:
    """The multipliers of the restriction at the answer: the node program over the whole
    range of s with P_0 replaced by its tangent at the answer's s (above P_0 everywhere, so
    a convex restriction of the model; equal to P_0 in value and slope at the answer, so its
    rows are the model's to first order there and its multipliers are the model's Lagrange
    multipliers at the answer). They are given only when Clarabel's certificate of that
    program passes (residuals and gap, as for the core exponential program) and its optimum
    is the answer's cost to :data:`GAP` (the answer is optimal for it: the multipliers price
    this answer, not another point). The search's own node multipliers come from whichever
    box's secant or tangent found the answer, at another s: never reported."""
    rows = FlagRows.of(arrays)
    program = node_program(arrays, rows)
    try:
        start, end = rows.flags(arrays.min_rate), rows.flags(arrays.max_rate)
        start, end = max(0.0, start * (1 - 4 * EPS)), end * (1 + 4 * EPS)
        at = program.solve(start, end, *tangent(rows.flags(incumbent.rates)))
        if not at.solved or at.value is None or at.incentive_dual is None:
            return Prices(None, f"the restriction at the answer was not solved ({at.status})")
        scale = program.scale
        certificate = conic_certificate(program.problem, at.raw, GAP, scale)
        bounds = bound_duals(program)
    finally:
        release(program)
    if not (certificate.applies and certificate.passed):
        return Prices(None, f"the restriction at the answer: {certificate.reason}")
    apart = abs(at.value - incumbent.cost)
    # relative to the answer's cost, and (a cost of 0) Clarabel's tolerance (1e-11 of the
    # program's unit of money)
    if apart > GAP * abs(incumbent.cost) + 1e-11 * scale:
        return Prices(
            None,
            f"the restriction at the answer costs {at.value:.10g}, not the answer's "
            f"{incumbent.cost:.10g}",
        )
    # A row that holds nothing (no weight, no false-flag term: an action that does not pay)
    # reads 0 >= n_i with n_i <= 0; any multiplier of it is optimal, and its price is 0.
    vacuous = (np.asarray(rows.weight) == 0) & (np.asarray(rows.flag_weight) == 0)
    dual = np.where(vacuous, 0.0, np.maximum(at.incentive_dual, 0.0))
    prices = incentive_shadow_prices(arrays, dual, incumbent.rates)
    # complementary slackness in the model: a row slack at the answer has no price. The
    # answer is the least cost to GAP, its rates moved outward until it verifies, so a row
    # that binds at the optimum can be slack at the answer by a few 1e-4 of its terms
    # (exponential_fp-88: 7e-5); slack beyond SLACK_PRICED of them is not binding.
    evaluation = evaluate_policy(arrays, incumbent.rates)
    slack = -(evaluation.net_incentive + margin_in_utility(arrays))
    for i in arrays.deviations:
        room = slack[i] > SLACK_PRICED * float(evaluation.utility_scale[i])
        if room and prices[arrays.action_names[i]] > 1e-9 * max(1.0, incumbent.cost):
            return Prices(
                None,
                f"the restriction prices {arrays.action_names[i]!r}, whose row is slack at "
                "the answer",
            )
    duals, why = _model_duals(arrays, rows, incumbent, dual, bounds, scale)
    return Prices(
        prices,
        "shadow prices from the restriction at the answer's P_0 tangent (Clarabel's residuals "
        "and gap within 1e-6; its optimum is the answer's cost)",
        duals,
        why,
    )


def _model_duals(
    arrays: ProblemArrays,
    rows: FlagRows,
    incumbent: Incumbent,
    dual: FloatArray,
    bounds: BoundDuals,
    scale: float,
) -> tuple[Duals | None, str]:
    """The restriction's multipliers (program units: rows divided by d_i, objective by
    ``scale``) as the core program's ``Duals`` (``duals.read_duals``): lambda_i = scale y_i /
    d_i on d_i P_i - d_0 P_0 >= k_i; eta_i = d cost / d P_i = scale y_i w_i (stationarity in
    the program's P_i, which enters only row i and its cone); zeta = sum_i lambda_i d_0 (in
    P_0's variable u, whose tangent has P_0's slope at the answer); mu_j and the floors'
    scale times their rows', plus phi_j times those of s <= end and s >= start (rows implied
    by the rate bounds, onto which a solver may put part of a bound's multiplier); the
    budget's as it is (c x / scale <= B / scale). A floor, ceiling or budget slack at the
    answer by more than ``SLACK_PRICED`` of itself has multiplier 0 (complementary slackness
    in the model): set to 0 when within Clarabel's round-off (1e-6 of the monitor's cost, or
    a product with the slack within the certified gap; 1e-6 for the budget), else all are
    refused (None)."""
    rates = np.asarray(incumbent.rates, dtype=float)
    lower = np.asarray(arrays.min_rate, dtype=float)
    upper = np.asarray(arrays.max_rate, dtype=float)
    phi = np.asarray(rows.flag_intensity, dtype=float)
    row_scale = incentive_rows(arrays).row_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        incentive = np.where(row_scale > 0, scale * dual / row_scale, 0.0)
    ceiling = scale * (bounds.ceiling + bounds.end * phi)
    floor = scale * (bounds.floor + bounds.start * phi)
    # A bound off the answer (beyond SLACK_PRICED of itself, and 1e-12) has multiplier 0 in
    # the model. Clarabel leaves such multipliers at its round-off, which are set to 0: at
    # most 1e-6 of the monitor's cost, or a product with the bound's slack within the
    # duality gap the certificate allows (GAP of the cost; exponential_fp-126: 3.6e-6 on a
    # floor 1.2e-4 away, 4e-10 against a cost of 0.034); a larger one means the multipliers
    # price another point, and none is given.
    cost = np.asarray(arrays.cost, dtype=float)
    noise = 1e-6 * np.maximum(cost, 1e-9 * max(float(np.max(cost, initial=0.0)), 1e-300))
    gap = GAP * max(incumbent.cost, 1e-300)
    off_ceiling = upper - rates > SLACK_PRICED * np.abs(upper) + 1e-12
    off_floor = rates - lower > SLACK_PRICED * np.abs(lower) + 1e-12
    for j, name in enumerate(arrays.monitor_names):
        above = ceiling[j] > noise[j] and ceiling[j] * (upper[j] - rates[j]) > gap
        if off_ceiling[j] and above:
            return None, f"the restriction prices the rate ceiling of {name!r}, not reached"
        if off_floor[j] and floor[j] > noise[j] and floor[j] * (rates[j] - lower[j]) > gap:
            return None, f"the restriction prices the rate floor of {name!r}, not at it"
    ceiling = np.where(off_ceiling, 0.0, ceiling)
    floor = np.where(off_floor, 0.0, floor)
    budget = bounds.budget if arrays.budget is not None else 0.0
    if arrays.budget is not None and arrays.budget - incumbent.cost > SLACK_PRICED * abs(
        arrays.budget
    ):
        if budget > 1e-6:
            return None, "the restriction prices the budget, not spent"
        budget = 0.0
    if not (np.all(np.isfinite(incentive)) and np.all(np.isfinite(ceiling))):
        return None, "a multiplier beyond float range"
    n, weight = len(arrays.deviations), np.asarray(rows.weight, dtype=float)
    return (
        Duals(
            incentive=floats_of(incentive, n),
            reach=floats_of(scale * dual * weight, n),
            false_flag=float(np.sum(scale * dual * np.asarray(rows.flag_weight, dtype=float))),
            ceiling=floats_of(ceiling, arrays.n_monitors),
            floor=floats_of(floor, arrays.n_monitors),
            budget=float(budget),
        ),
        "the restriction's multipliers (certified with the prices), none on a slack bound",
    )


__all__ = ["NodeSolve", "Prices", "Search", "applies", "certified_prices", "search"]
