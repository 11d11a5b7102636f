"""Checking a policy against the model, independently of the program that produced it.

The check does not reuse the program's rows: it evaluates the agent's expected utility of
every action directly from the model's definition (CARA utility, detection min(1, Qx),
false flags f.x) and compares each deviation with compliance. A solver's own status is
never taken as proof.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.detection import detection_probability, false_flag_rate
from ..model.exact import EPS, ExactPolicy, exact_cost_exceeds, float_band, row_size
from ..model.penalties import penalty_cost_of, penalty_violations
from ..model.stable import incentive_violation, overflows
from ..model.utility import FloatArray, utility
from ..results.result import Check, Verification

#: Largest violation accepted, relative to the magnitude of the terms compared
#: (an absolute floor of the same size applies to terms below 1).
TOLERANCE = 1e-6
#: A row slack at an answer by more than this share of its terms (``utility_scale``) is
#: not binding: its shadow price is 0 (``core.py``, ``flag_search.certified_prices``).
SLACK_PRICED = 1e-3
#: An incentive row is accepted only when it holds exactly (ties go to the principal): a
#: row within float64's error bound of 0 is decided in exact arithmetic (model/exact.py).
#: The smallest violation recorded for a row that fails exactly.
SMALLEST = 5e-324
#: A budget is decided exactly when the float cost is within this many of its terms' size.
BUDGET_BAND = 64 * 2.0**-52
#: Floor under a check's scale: guards a division by zero, not a tolerance in money.
SCALE_FLOOR = 1e-300


@dataclass(frozen=True)
class PolicyEvaluation:
    """What a policy does to the agent: detection and expected utility of every action."""

    detection: FloatArray  # P_i, all actions (the compliant one: its false-flag rate P_0)
    expected_utility: FloatArray  # EU_i, wealth measured relative to the compliant gain
    net_incentive: FloatArray  # EU_i - EU_0 (0 for the compliant action)
    utility_scale: FloatArray  # magnitude of the terms in each comparison


def evaluate_policy(
    arrays: ProblemArrays, rates: FloatArray, penalties: FloatArray | None = None
) -> PolicyEvaluation:
    """The agent's view of a policy (``penalties``: per action, default the caps).

    Wealth is measured relative to the compliant gain g_0 and utilities are multiplied by
    exp(r g_0), a positive factor, so comparisons are those of the model and ``exp`` stays in
    range; the margin is multiplied by the same factor.
    """
    return _evaluated(arrays, rates, fixed_of(arrays, penalties))


def _evaluated(arrays: ProblemArrays, rates: FloatArray, fixed: Fixed) -> PolicyEvaluation:
    detection = detection_probability(arrays, rates)
    detection[arrays.compliant] = false_flag_rate(arrays, rates)
    # expected_utility's sum, (1 - P) u(g) + P u(g - F), from the utilities of the fixed
    # outcomes (the same operations on the same numbers)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 beyond exp's range: nan
        eu = (1 - detection) * fixed.free + detection * fixed.caught
    net = eu - eu[arrays.compliant]
    # The magnitude of the terms compared (not floored at 1 money unit): a violation is
    # judged relative to the row's own numbers, so gains of 1e-9 are checked as strictly
    # as gains of 1 (issue 7).
    with np.errstate(invalid="ignore"):
        terms = np.maximum((1 - detection) * fixed.free_size, detection * fixed.caught_size)
    scale = np.maximum(terms, terms[arrays.compliant])
    return PolicyEvaluation(detection, eu, net, scale)


@dataclass(frozen=True)
class Fixed:
    """What the checks of a policy need that depends only on the arrays and the penalties
    (the same for every candidate policy of a spec): computed once per live
    ``ProblemArrays`` and penalty vector (``fixed_of``)."""

    key: bytes  # the penalty vector's bytes
    free: FloatArray  # u(g_i - g_0), every action
    caught: FloatArray  # u(g_i - g_0 - F_i) (the compliant entry: F_fp)
    free_size: FloatArray  # |free|
    caught_size: FloatArray  # |caught|
    overflow: bool  # the incentive rows are compared in log space (stable.py)
    relative_gain: FloatArray  # g_i - g_0, deviations
    band: FloatArray  # each row's float error bound, relative to its terms
    positive: np.ndarray  # row_size > 0
    size: FloatArray  # row_size where positive, else 1 (what a row's value is divided by)
    margin: float  # margin_in_utility


#: ``Fixed`` of each live ``ProblemArrays`` (immutable, compared by identity), for the
#: last penalty vector it was checked with.
_fixed_of: weakref.WeakKeyDictionary[ProblemArrays, Fixed] = weakref.WeakKeyDictionary()


def fixed_of(arrays: ProblemArrays, penalties: FloatArray | None) -> Fixed:
    penalty = (arrays.penalty_cap if penalties is None else np.asarray(penalties, float)).copy()
    penalty[arrays.compliant] = arrays.false_positive_penalty
    key = penalty.tobytes()
    found = _fixed_of.get(arrays)
    if found is None or found.key != key:
        found = _fixed_numbers(arrays, penalty, key)
        _fixed_of[arrays] = found
    return found


def _fixed_numbers(arrays: ProblemArrays, penalty: FloatArray, key: bytes) -> Fixed:
    r = arrays.risk_aversion
    relative = arrays.gain - arrays.gain[arrays.compliant]
    free = utility(relative, r)
    caught = utility(relative - penalty, r)
    dev = arrays.deviations
    relative_gain = arrays.gain[dev] - arrays.gain[arrays.compliant]
    band = float_band(arrays, dev, penalty)
    overflow = overflows(
        np.append(relative_gain, 0.0),
        np.append(penalty[dev], arrays.false_positive_penalty),
        r,
    )
    if overflow:
        band = 5.0 * band
        positive = np.ones(dev.shape, dtype=bool)
        size = np.ones(dev.shape)
    else:
        total = row_size(arrays, dev, penalty)
        band = band * total
        positive = total > 0
        size = np.where(positive, total, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            band = np.where(positive, band / size, band)
    return Fixed(
        key,
        free,
        caught,
        np.abs(free),
        np.abs(caught),
        overflow,
        relative_gain,
        band,
        positive,
        size,
        margin_in_utility(arrays),
    )


class Checks:
    """The constraint families re-checked at a policy, and the verdict on them."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(
        self,
        name: str,
        violation: FloatArray,
        scale: FloatArray | float,
        floor: float = 1.0,
        *,
        exact: bool = False,
        within: float | None = None,
    ) -> None:
        """Record one family: ``violation`` > 0 where violated, relative to max(floor, scale).

        The relative violation is the one reported, finite wherever the numbers are
        (issue 20): the scale is floored at SCALE_FLOOR, never 0. NaN counts as an infinite
        violation: an unreadable answer never passes. ``exact`` (a hard limit: the budget,
        a cap) and ``within=0`` (an incentive row, held exactly at its own terms): any
        violation at all fails the check, however small relative to its terms.
        """
        violation = np.atleast_1d(np.asarray(violation, dtype=float))
        held_exactly = exact or within == 0.0
        if violation.size == 0:
            self.checks.append(Check(name, 0.0, 0.0, held_exactly))
            return
        denominator = np.maximum(np.maximum(floor, np.asarray(scale, dtype=float)), SCALE_FLOOR)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # The denominator is positive (or NaN), so a violation <= 0 gives a relative one
            # <= 0; "+ 0.0" turns -0.0 into 0.0 (IEEE: x + 0 is x for every other x).
            relative = violation / denominator + 0.0
        # NaN, from a NaN violation or scale, is an infinite violation.
        unreadable = np.isnan(relative)
        if unreadable.any():
            relative = np.where(unreadable, np.inf, relative)
            violation = np.where(np.isnan(violation), np.inf, violation)
        if within is not None and within > 0:  # a limit of its own, tighter than the verdict's
            relative = np.where(relative > within, np.inf, relative)
        self.checks.append(Check(name, float(violation.max()), float(relative.max()), held_exactly))

    @classmethod
    def of_rates(cls, arrays: ProblemArrays, rates: FloatArray) -> Checks | None:
        """The checks of a policy's rates against their bounds (None: a rate is not finite)."""
        if not np.all(np.isfinite(rates)):
            return None
        checks = cls()
        checks.add("min_rate", arrays.min_rate - rates, 1.0)
        checks.add("max_rate", rates - arrays.max_rate, 1.0)
        return checks

    def verdict(self, tolerance: float) -> Verification:
        worst_abs = max(c.max_violation for c in self.checks)
        worst_rel = max(c.max_relative_violation for c in self.checks)
        return Verification(
            passed=all(c.passes(tolerance) for c in self.checks),
            tolerance=tolerance,
            max_violation=max(0.0, worst_abs),
            max_relative_violation=max(0.0, worst_rel),
            checks=tuple(self.checks),
        )


def not_finite(tolerance: float) -> Verification:
    """The verdict on a policy with NaN or infinite rates."""
    nan = float("nan")
    return Verification(False, tolerance, nan, nan, (Check("finite_rates", nan, nan),))


def margin_in_utility(arrays: ProblemArrays) -> float:
    r = arrays.risk_aversion
    if not (r and arrays.margin):
        return arrays.margin
    with np.errstate(over="ignore"):  # beyond float range: inf, and the rows go to stable.py
        return arrays.margin * float(np.exp(r * arrays.gain[arrays.compliant]))


def incentive_rows(
    arrays: ProblemArrays,
    rates: FloatArray,
    penalties: FloatArray | None = None,
    evaluation: PolicyEvaluation | None = None,
) -> FloatArray:
    """Each deviation's incentive row, EU_i - EU_0 + margin, relative to the size of its
    terms: > 0 where the action is not deterred (exactly), <= 0 where it is.

    The rows are evaluated in float64 first; a row whose value is within float64's error
    bound of 0 (``exact.float_band``) is decided exactly (``exact.ExactPolicy``: fractions
    for a risk-neutral agent with linear detection, mpmath otherwise), and its entry is the
    exact value over its terms (a failing row is never below the smallest positive float).
    """
    fixed = fixed_of(arrays, penalties)
    if evaluation is None:
        evaluation = _evaluated(arrays, rates, fixed)
    dev = arrays.deviations
    band = fixed.band
    if fixed.overflow:
        chosen = arrays.penalty_cap if penalties is None else np.asarray(penalties, dtype=float)
        # exp(-r w) leaves float range: compare in log space (stable.py), relative to the
        # largest of the (at most five) terms.
        relative, _ = incentive_violation(
            fixed.relative_gain,
            chosen[dev],
            evaluation.detection[dev],
            float(evaluation.detection[arrays.compliant]),
            arrays.false_positive_penalty,
            arrays.risk_aversion,
            arrays.margin,
            float(arrays.gain[arrays.compliant]),
        )
        value = np.asarray(relative, dtype=float)
    else:
        value = np.asarray(evaluation.net_incentive[dev] + fixed.margin, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(fixed.positive, value / fixed.size, value)
    out = np.where(np.isnan(value), np.inf, value)
    decide_undecided(arrays, rates, penalties, out, np.abs(value) <= band)
    return np.asarray(out)


def decide_undecided(
    arrays: ProblemArrays,
    rates: FloatArray,
    penalties: FloatArray | None,
    rows: FloatArray,
    undecided: np.ndarray,
) -> None:
    """Decide exactly the deviations' rows marked ``undecided`` (within float64's error
    bound of 0) and write their entries into ``rows``: the exact value over the row's
    terms, never below the smallest positive float for a row that fails."""
    found = np.flatnonzero(undecided)
    if not found.size:
        return
    dev = arrays.deviations
    policy = ExactPolicy(arrays, rates, penalties)
    for k in found.tolist():
        row = policy.decide(int(dev[k]))
        rows[k] = min(row.relative, 0.0) if row.deterred else max(row.relative, SMALLEST)


def verify_policy(
    arrays: ProblemArrays,
    rates: FloatArray,
    reported_cost: float,
    tolerance: float = TOLERANCE,
    penalties: FloatArray | None = None,
) -> Verification:
    """Re-check every constraint of full deterrence at ``rates`` (and chosen ``penalties``,
    one per action, when the penalty design makes them decisions; default the caps)."""
    return verify_evaluated(arrays, rates, reported_cost, tolerance, penalties)[0]


def verify_evaluated(
    arrays: ProblemArrays,
    rates: FloatArray,
    reported_cost: float,
    tolerance: float = TOLERANCE,
    penalties: FloatArray | None = None,
) -> tuple[Verification, PolicyEvaluation | None]:
    """:func:`verify_policy`, with the agent's view of the policy it checked (None when a
    rate is not finite), which the result of an accepted policy reports."""
    checks = Checks.of_rates(arrays, rates)
    if checks is None:
        return not_finite(tolerance), None
    add = checks.add
    evaluation = evaluate_policy(arrays, rates, penalties)
    add(
        "incentive",
        incentive_rows(arrays, rates, penalties, evaluation),
        1.0,
        floor=0.0,
        within=0.0,
    )
    cost = float(arrays.cost @ rates)
    tail_checks(checks, arrays, rates, cost, penalties, reported_cost)
    return checks.verdict(tolerance), evaluation


def tail_checks(
    checks: Checks,
    arrays: ProblemArrays,
    rates: FloatArray,
    cost: float,
    penalties: FloatArray | None,
    reported_cost: float,
) -> None:
    """The checks after the incentive rows: the budget, the penalty design's limits and the
    reported cost (``cost``: the oversight cost at ``rates``, ``cost @ rates``)."""
    add = checks.add
    if arrays.budget is not None:
        # At the budget's own scale: a budget of 1e-8 is checked at 1e-8, not at 1; and
        # exactly where the float sum is within round-off of it.
        over = cost - arrays.budget
        if abs(over) <= BUDGET_BAND * float(np.abs(arrays.cost) @ np.abs(rates)):
            over = 1.0 if exact_cost_exceeds(arrays.cost, rates, arrays.budget) else 0.0
            over *= max(abs(arrays.budget), abs(cost)) * EPS
        add(
            "budget",
            np.array([over]),
            max(abs(arrays.budget), abs(cost)),
            floor=SCALE_FLOOR,
            exact=True,
        )
    dev = arrays.deviations
    chosen = arrays.penalty_cap[dev] if penalties is None else np.asarray(penalties)[dev]
    for name, (violation, scale) in penalty_violations(arrays, chosen).items():
        # A cap, a penalty's sign and a shared level are hard limits, like the budget: an
        # ulp beyond is beyond.
        add(name, violation, scale, exact=True)
    total = cost + penalty_cost_of(arrays, chosen)
    add(
        "reported_cost",
        np.array([abs(total - reported_cost)]),
        max(abs(total), abs(reported_cost)),
        floor=SCALE_FLOOR,
    )
