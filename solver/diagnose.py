"""Saying why a spec cannot be met.

For each non-compliant action: the highest detection and expected penalty any allowed
monitoring reaches (ignoring the budget), whether that deters it, and a penalty cap that
would. For a budget: the least cost that full deterrence needs.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.optimize import linprog

from .arrays import ProblemArrays
from .detection_models import detection_probability, false_flag_rate
from .features.deterrence import incentive_rows
from .result import ActionDiagnosis, Diagnosis


def _best_deterrence(arrays: ProblemArrays, row: int, loss: float, flag_loss: float) -> tuple[
    float, float
]:
    """max over allowed rates of d_i P_i - d_0 P_0; returns (P_i, P_0) at the maximiser.

    Without a false-positive penalty every rate at its ceiling maximises all detections at
    once; otherwise this is a small LP in (x, P_i).
    """
    q = np.asarray(arrays.detection[arrays.deviations[row]].todense()).ravel()
    f = arrays.false_positive
    if flag_loss == 0 or not np.any(f > 0) or arrays.detection_model != "linear" or arrays.roc:
        # Exponential and ROC detection: the rate ceilings (exact without a false-positive
        # penalty, the only case penalty design allows; an approximation otherwise).
        x = arrays.max_rate
        detection = detection_probability(arrays, x)[arrays.deviations[row]]
        return float(detection), false_flag_rate(arrays, x)
    m = arrays.n_monitors
    # variables (x_1..x_m, P); maximise loss * P - flag_loss * f.x
    c = np.concatenate([flag_loss * f, [-loss]])
    a_ub = np.concatenate([-q, [1.0]])[None, :]
    bounds = [(lo, hi) for lo, hi in zip(arrays.min_rate, arrays.max_rate, strict=True)]
    bounds.append((0.0, 1.0))
    solution = linprog(c, A_ub=a_ub, b_ub=[0.0], bounds=bounds, method="highs")
    if solution.status != 0:
        x = arrays.max_rate
        return min(1.0, float(q @ x)), float(f @ x)
    x, p = solution.x[:m], float(solution.x[m])
    return p, float(f @ x)


def _cap_for(loss_needed: float, relative_gain: float, r: float) -> float | None:
    """The penalty F with u(g) - u(g - F) = loss_needed (relative-wealth units), if any."""
    if loss_needed <= 0:
        return 0.0
    if not math.isfinite(loss_needed):
        return None
    if r == 0:
        return loss_needed
    if r > 0 and r * relative_gain > 700:
        # exp would overflow: log1p(a) = log(a) for huge a (issue 7, stable CARA numbers).
        return (math.log(loss_needed * r) + r * relative_gain) / r
    argument = loss_needed * r * math.exp(min(r * relative_gain, 700.0))
    if argument <= -1:
        return None  # a risk-seeking agent's loss from any penalty is bounded
    return math.log1p(argument) / r


def diagnose(arrays: ProblemArrays, least_cost: float | None = None) -> Diagnosis:
    """Explain infeasibility. ``least_cost`` is the cost of full deterrence without budget."""
    rows = incentive_rows(arrays)
    findings: list[ActionDiagnosis] = []
    for row, i in enumerate(arrays.deviations):
        name = arrays.action_names[i]
        cap = float(arrays.penalty_cap[i])
        loss = float(rows.loss[row])
        p, p0 = _best_deterrence(arrays, row, loss, rows.false_flag_loss)
        reached = loss * p - rows.false_flag_loss * p0
        need = float(rows.need[row])
        deterrable = reached >= need - 1e-9 * max(1.0, abs(need))
        relative_gain = float(arrays.gain[i] - arrays.gain[arrays.compliant])
        if p > 0:
            cap_needed = _cap_for((need + rows.false_flag_loss * p0) / p, relative_gain,
                                  arrays.risk_aversion)
        else:
            cap_needed = None
        if deterrable:
            reason = "deterrable"
        elif p == 0:
            reason = "no monitor or audit can detect it, and it pays more than complying"
        else:
            reason = (
                f"the most monitoring allowed catches it with probability {p:.4g}, an expected "
                f"penalty of {p * cap:.4g} against a gain of {relative_gain:.4g} over complying"
            )
            reason += (
                f"; a penalty cap of {cap_needed:.4g} would deter it"
                if cap_needed is not None
                else "; no penalty cap would deter it"
            )
        findings.append(
            ActionDiagnosis(
                name=name,
                deterrable=bool(deterrable),
                max_detection=p,
                max_expected_penalty=p * cap,
                penalty_cap=cap,
                cap_needed=cap_needed,
                reason=reason,
            )
        )
    blocked = [f for f in findings if not f.deterrable]
    if blocked:
        names = ", ".join(f.name for f in blocked)
        reason = f"cannot be deterred by any allowed monitoring: {names}"
    elif arrays.budget is not None and least_cost is not None and least_cost > arrays.budget:
        reason = (
            f"full deterrence needs an oversight cost of {least_cost:.6g}, "
            f"over the budget of {arrays.budget:.6g}"
        )
    else:
        reason = "the actions can each be deterred, but not all by one policy within the limits"
    return Diagnosis(
        reason=reason, actions=tuple(findings), least_cost=least_cost, budget=arrays.budget
    )


def without_budget(arrays: ProblemArrays) -> ProblemArrays:
    # Penalties at their caps: the least oversight cost, which is what a budget limits.
    return replace(arrays, budget=None, penalty_design="fixed", penalty_cost=0.0)

