"""Checking a commitment (min_loss, types, deployment) against the model, in numpy.

Independent of the program that produced the policy: for every type the agent's expected
utility of every action is evaluated from the model's definition (CARA utility, detection
min(1, Qx), false flags f.x, interval gains at their worst ends), and the action reported as
induced must be a best response by the margin. Rates, deployments, the budget and the
reported cost and harm are re-checked too. No solver status is taken as proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..formulation.commitment import StrategicArrays
from ..model.utility import FloatArray, expected_utility
from ..results.result import Verification
from .verify import TOLERANCE, Checks, not_finite


@dataclass(frozen=True)
class TypeView:
    """Each type's expected utility of every action at a policy (K x n), both gain ends."""

    detection: FloatArray  # n: P_i = min(1, Q_i x); the compliant entry is P_0 = f.x
    low: FloatArray
    high: FloatArray
    margin: FloatArray  # K


def type_view(data: StrategicArrays, rates: FloatArray) -> TypeView:
    base = data.base
    c = base.compliant
    detection = np.minimum(1.0, np.asarray(base.detection @ rates, dtype=float).ravel())
    detection[c] = float(np.clip(base.false_positive @ rates, 0.0, 1.0))
    penalty = base.penalty_cap.copy()
    penalty[c] = base.false_positive_penalty
    low = np.empty_like(data.gain_low)
    high = np.empty_like(data.gain_high)
    margin = np.empty(data.n_types)
    for k, r in enumerate(data.risk_aversion):
        reference = data.gain_low[k, c]
        low[k] = expected_utility(data.gain_low[k] - reference, penalty, detection, float(r))
        high[k] = expected_utility(data.gain_high[k] - reference, penalty, detection, float(r))
        margin[k] = base.margin * (np.exp(r * reference) if r else 1.0)
    return TypeView(detection, low, high, margin)


def best_response_slack(view: TypeView, induced: Sequence[int]) -> FloatArray:
    """EU^lo(a_k) - max_{i != a_k} EU^hi(i) - margin_k per type (>= 0: a_k is a best response)."""
    slack = np.empty(len(induced))
    for k, a in enumerate(induced):
        others = np.delete(view.high[k], a)
        best_other = np.max(others) if others.size else -np.inf
        slack[k] = view.low[k, a] - best_other - view.margin[k]
    return slack


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
    checks = Checks()
    add = checks.add
    if not np.all(np.isfinite(rates)):
        return not_finite(tolerance)
    add("min_rate", base.min_rate - rates, 1.0)
    add("max_rate", rates - base.max_rate, 1.0)
    # A monitor that runs must have paid its fixed cost.
    unpaid = np.where((data.fixed_cost > 0) & (deployed < 0.5), rates, 0.0)
    add("deployment", unpaid, 1.0)
    view = type_view(data, rates)
    scale = np.maximum(1.0, np.max(np.abs(np.concatenate([view.low, view.high], axis=1)), axis=1))
    add("best_response", -best_response_slack(view, induced), scale + view.margin)
    cost = float(base.cost @ rates + data.fixed_cost @ (deployed > 0.5))
    if base.budget is not None:
        add("budget", np.array([cost - base.budget]), max(abs(base.budget), abs(cost)))
    add("reported_cost", np.array([abs(cost - reported_cost)]), max(abs(cost), 1.0))
    harm = float(data.weight @ data.harm[list(induced)])
    add("reported_harm", np.array([abs(harm - reported_harm)]), max(abs(harm), 1.0))
    return checks.verdict(tolerance)
