"""Checking a commitment (min_loss, types, deployment) against the model, in numpy.

Independent of the program that produced the policy: for every type the agent's expected
utility of every action is evaluated from the model's definition (CARA utility, detection
min(1, Qx), false flags f.x, interval gains at their worst ends), and the action reported as
induced must be a best response by the margin. Rates, deployments, the budget and the
reported cost and harm are re-checked too. No solver status is taken as proof.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..model.types import StrategicArrays, best_response_slack, type_view
from ..model.utility import FloatArray
from ..results.result import Verification
from .verify import TOLERANCE, Checks, not_finite


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
