"""Checking a commitment (min_loss, types, deployment) against the model, in numpy.

Independent of the program that produced the policy: for every type the agent's expected
utility of every action is evaluated from the model's definition (CARA utility, detection
min(1, Qx), false flags f.x, interval gains at their worst ends), and the action reported as
induced must be a best response by the margin. Rates, deployments, the budget and the
reported cost and harm are re-checked too. No solver status is taken as proof.

As for full deterrence (``verify.py``), each best-response row is judged relative to its own
terms (a gain of 1e-9 is checked as strictly as a gain of 1) and held exactly, without a
round-off allowance: a row whose float value is within float64's error bound of 0 is decided
in exact arithmetic (``model/exact.py``: fractions for a risk-neutral type, mpmath for a CARA
one). The budget is checked at its own scale, exactly where the float sum is that close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..model.exact import BAND_FACTOR, EPS, exact_cost_exceeds, exact_preference
from ..model.pair_rows import all_pairs, pair_values
from ..model.types import StrategicArrays, type_detection
from ..model.utility import FloatArray
from ..results.result import Verification
from .verify import BUDGET_BAND, SCALE_FLOOR, SMALLEST, TOLERANCE, Checks, not_finite


def verify_commitment(
    data: StrategicArrays,
    rates: FloatArray,
    deployed: FloatArray,
    induced: Sequence[int],
    reported_cost: float,
    reported_harm: float,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Re-check a policy: rates in bounds, deployments paid, budget, best responses, totals."""
    base = data.base
    checks = Checks.of_rates(base, rates)
    if checks is None:
        return not_finite(tolerance)
    add = checks.add
    # A monitor that runs must have paid its fixed cost.
    unpaid = np.where((data.fixed_cost > 0) & (deployed < 0.5), rates, 0.0)
    add("deployment", unpaid, 1.0)
    rows = best_response_rows(data, rates, induced)
    add("best_response", rows, 1.0, floor=0.0, within=0.0)  # held exactly, at its own terms
    cost = float(base.cost @ rates + data.fixed_cost @ (deployed > 0.5))
    if base.budget is not None:
        scale = max(abs(base.budget), abs(cost))
        over = _over_budget(data, rates, deployed, cost)
        add("budget", np.array([over]), scale, floor=SCALE_FLOOR, exact=True)
    add("reported_cost", np.array([abs(cost - reported_cost)]), abs(cost), floor=SCALE_FLOOR)
    harm = float(data.weight @ data.harm[list(induced)])
    add("reported_harm", np.array([abs(harm - reported_harm)]), abs(harm), floor=SCALE_FLOOR)
    return checks.verdict(tolerance)


def _over_budget(
    data: StrategicArrays, rates: FloatArray, deployed: FloatArray, cost: float
) -> float:
    """cost - budget, at the budget's own scale; decided exactly (a violation of one ulp of
    the scale, or none) where the float sum is within round-off of the budget."""
    base = data.base
    assert base.budget is not None
    paid = np.concatenate([base.cost, data.fixed_cost])
    used = np.concatenate([rates, (deployed > 0.5).astype(float)])
    over = cost - base.budget
    if abs(over) > BUDGET_BAND * float(np.abs(paid) @ np.abs(used)):
        return over
    exceeds = exact_cost_exceeds(paid, used, base.budget)
    return max(abs(base.budget), abs(cost)) * EPS if exceeds else 0.0


@dataclass(frozen=True)
class TypeTerms:
    """Type k's numbers as the strategic checks hold them: wealth relative to its low
    compliant gain (``reference``) and the penalty of each action (the compliant one: the
    false-positive penalty). Their utilities are compared in log space (``pair_rows.py``)."""

    r: float
    reference: float
    low: FloatArray  # g^lo - reference
    high: FloatArray  # g^hi - reference
    penalty: FloatArray


def type_terms(data: StrategicArrays, k: int) -> TypeTerms:
    base = data.base
    c = base.compliant
    penalty = base.penalty_cap.astype(float).copy()
    penalty[c] = base.false_positive_penalty
    r = float(data.risk_aversion[k])
    reference = float(data.gain_low[k, c])
    return TypeTerms(
        r, reference, data.gain_low[k] - reference, data.gain_high[k] - reference, penalty
    )


def best_response_rows(
    data: StrategicArrays, rates: FloatArray, induced: Sequence[int]
) -> FloatArray:
    """For each type k and action i other than its induced a_k: EU^hi_k(i) - EU^lo_k(a_k) +
    margin_k relative to the size of the row's terms, > 0 where i pays more (exactly).

    A CARA type's rows are evaluated in log space (``model/pair_rows.py``: each row divided
    by its largest term, finite for any gains and r); a risk-neutral type's directly.
    The float value decides a row when it is beyond the row's float64 error bound
    (``BAND_FACTOR`` eps times the operations, as ``exact.float_band`` counts them);
    otherwise the row is decided exactly (``exact.exact_preference``), and a row that fails
    exactly is never below the smallest positive float. NaN fails."""
    base = data.base
    c = base.compliant
    p = type_detection(data, rates)
    reach = np.diff(base.detection.indptr).astype(float)
    reach[c] = float(np.count_nonzero(base.false_positive))
    pairs = all_pairs(data.n_types, base.n_actions, induced)
    rows = pair_values(data, pairs, p)
    out: list[float] = []
    for t, (k, a, i) in enumerate(pairs.tolist()):
        terms = type_terms(data, k)
        r, low, high, penalty = terms.r, terms.low, terms.high, terms.penalty
        value, size = float(rows.value[t]), float(rows.size[t])
        spread = abs(r) * (abs(low[a]) + abs(high[i]) + penalty[a] + penalty[i])
        band = BAND_FACTOR * EPS * (reach[a] + reach[i] + 16.0 + 2.0 * spread) * size
        # P's own round-off moves the value by D_a dP_a + D_i dP_i, which the size (weighted
        # by 1 - P and P) misses where P rounds to 1 and u(g) is e^2500 times u(g - F)
        band += BAND_FACTOR * EPS * (reach[a] + reach[i] + 2.0) * float(rows.own[t] + rows.other[t])
        if not (np.isfinite(value) and np.isfinite(size)):
            out.append(float("inf"))
        elif abs(value) > band or size <= SCALE_FLOOR:
            out.append(value / size if size > SCALE_FLOOR else value)
        else:
            row = exact_preference(
                base,
                rates,
                r,
                float(data.gain_low[k, c]),
                (a, float(data.gain_low[k, a])),
                (i, float(data.gain_high[k, i])),
            )
            out.append(min(row.relative, 0.0) if row.deterred else max(row.relative, SMALLEST))
    return np.asarray(out, dtype=float)
