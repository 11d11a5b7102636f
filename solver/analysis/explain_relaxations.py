"""Each constraint that holds the cost up, relaxed: its first-order saving from the engine's
duals and its exact saving, re-solved (the derivatives are in ``explain.py``'s docstring)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.utility import marginal_utility
from ..results.errors import SpecError
from ..results.result import Duals, Result
from ..spec.document import Spec
from .explanation import SMALL, Relaxation
from .sweep import set_value

#: How far each constraint is relaxed to measure its exact saving.
RELAX = 0.10
#: A relaxation whose first-order saving is below this share of the cost is round-off.
NOISE = 1e-7


@dataclass(frozen=True)
class Candidate:
    """A constraint to relax: its label, the spec field, its value now and relaxed, and
    d cost / d value at the current value (from the duals)."""

    constraint: str
    path: str
    current: float
    relaxed: float
    marginal: float


def relaxations(
    spec: Spec,
    arrays: ProblemArrays,
    result: Result,
    duals: Duals | None,
    solve: Callable[[Spec], Result],
    relax: float,
) -> tuple[Relaxation, ...]:
    """Each constraint that costs something, relaxed by ``relax``: estimate and exact saving."""
    if duals is None or result.total_cost is None:
        return ()
    candidates: list[Candidate] = []
    r = arrays.risk_aversion
    dev = arrays.deviations
    relative = arrays.gain[dev] - arrays.gain[arrays.compliant]
    detection = np.array([result.action(arrays.action_names[i]).detection for i in dev])
    # Penalty caps: an action's own, or the agent's default shared by every action without one.
    design = arrays.penalty_design
    if design == "fixed":
        incentive = np.asarray(duals.incentive)
        cap_slope = -incentive * detection * marginal_utility(relative - arrays.penalty_cap[dev], r)
    else:
        own_cap = np.array(
            [spec.action(arrays.action_names[i]).penalty_cap is not None for i in dev], dtype=bool
        )
        incentive, cap_slope = penalty_design_slopes(arrays, result, detection, own_cap)
    default_slope = 0.0
    for k, i in enumerate(dev):
        action = spec.action(arrays.action_names[i])
        if action.penalty_cap is None:
            default_slope += float(cap_slope[k])
        elif cap_slope[k] < -SMALL:
            cap = action.penalty_cap
            candidates.append(
                Candidate(
                    f"penalty cap of {action.name}",
                    f"actions.{action.name}.penalty_cap",
                    cap,
                    cap * (1 + relax),
                    float(cap_slope[k]),
                )
            )
    if design != "fixed" and spec.penalty.cost > 0:
        # Envelope theorem: d cost / d a = the penalty level paid for (F, or sum_i F_i).
        level = (result.penalty_cost or 0.0) / spec.penalty.cost
        if level > SMALL:
            candidates.append(
                Candidate(
                    "cost of the penalty level",
                    "penalty.cost",
                    spec.penalty.cost,
                    spec.penalty.cost * (1 - relax),
                    level,
                )
            )
    if default_slope < -SMALL and spec.agent.penalty_cap is not None:
        cap = spec.agent.penalty_cap
        candidates.append(
            Candidate(
                "default penalty cap", "agent.penalty_cap", cap, cap * (1 + relax), default_slope
            )
        )
    # Rate ceilings and floors of declared monitors (audits always range over [0, 1]).
    ceiling, floor = np.asarray(duals.ceiling), np.asarray(duals.floor)
    for j, monitor in enumerate(spec.monitors):
        if ceiling[j] > SMALL and monitor.max_rate < 1:
            new = min(1.0, monitor.max_rate * (1 + relax)) if monitor.max_rate > 0 else relax
            candidates.append(
                Candidate(
                    f"rate ceiling of {monitor.name}",
                    f"monitors.{monitor.name}.max_rate",
                    monitor.max_rate,
                    new,
                    -float(ceiling[j]),
                )
            )
        if floor[j] > SMALL and monitor.min_rate > 0:
            candidates.append(
                Candidate(
                    f"rate floor of {monitor.name}",
                    f"monitors.{monitor.name}.min_rate",
                    monitor.min_rate,
                    monitor.min_rate * (1 - relax),
                    float(floor[j]),
                )
            )
    if spec.oversight.budget is not None and duals.budget > SMALL:
        budget = spec.oversight.budget
        candidates.append(
            Candidate(
                "oversight budget", "oversight.budget", budget, budget * (1 + relax), -duals.budget
            )
        )
    false_flags = result.action(spec.compliant_action).detection
    fp_penalty = spec.agent.false_positive_penalty
    if fp_penalty > 0 and false_flags > 0:
        slope = float(incentive.sum()) * false_flags * float(marginal_utility(-fp_penalty, r))
        if slope > SMALL:
            candidates.append(
                Candidate(
                    "penalty on falsely flagged compliant agents",
                    "agent.false_positive_penalty",
                    fp_penalty,
                    fp_penalty * (1 - relax),
                    slope,
                )
            )
    if spec.agent.margin > 0:
        scale = math.exp(r * float(arrays.gain[arrays.compliant])) if r else 1.0
        slope = float(incentive.sum()) * scale
        if slope > SMALL:
            margin = spec.agent.margin
            candidates.append(
                Candidate(
                    "required compliance margin",
                    "agent.margin",
                    margin,
                    margin * (1 - relax),
                    slope,
                )
            )
    priced = []
    for c in candidates:
        now, new, slope = c.current, c.relaxed, c.marginal
        if abs(slope * (new - now)) <= NOISE * max(abs(result.total_cost), SMALL):
            continue  # a multiplier at the solver's round-off (cone solvers leave ~1e-9)
        exact_cost: float | None = None
        status = "invalid"
        try:
            relaxed = solve(set_value(spec, c.path, new))
            status = relaxed.status
            exact_cost = relaxed.total_cost
        except SpecError:
            pass
        priced.append(
            Relaxation(
                constraint=c.constraint,
                path=c.path,
                current=now,
                relaxed=new,
                marginal=slope,
                first_order_saving=-slope * (new - now),
                exact_saving=None if exact_cost is None else result.total_cost - exact_cost,
                exact_cost=exact_cost,
                status=status,
            )
        )
    priced.sort(key=lambda x: -(x.exact_saving or 0.0))
    return tuple(priced)


def penalty_design_slopes(
    arrays: ProblemArrays, result: Result, detection: np.ndarray, own_cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Under a penalty design: lambda_i and d cost / d cap_i.

    The program is a cone program without the LP's incentive rows, so lambda_i (d cost / d k_i
    for the row P_i F_i >= k_i) is the shadow price the penalty component reports. In the
    original variables, stationarity in F_i reads a - lambda_i P_i + nu_i = 0, with nu_i the
    multiplier of F_i <= cap_i, so d cost / d cap_i = -nu_i = -(lambda_i P_i - a)^+ (zero
    while the chosen penalty is below its cap). For a shared level F <= min_i cap_i the same
    holds with sum_i lambda_i P_i, and only the smallest cap(s) carry it.
    """
    dev = arrays.deviations
    # The program's rows in its own units: a [horizon]'s gains are divided by kappa there.
    incentive = arrays.present_value * np.array(
        [float(result.action(arrays.action_names[i]).shadow_price or 0.0) for i in dev]
    )
    a = float(arrays.penalty_cost)
    if arrays.penalty_design == "shared":
        caps = arrays.penalty_cap[dev]
        lowest = caps == caps.min() if caps.size else caps.astype(bool)
        slope = -max(float(incentive @ detection) - a, 0.0)
        # One field raises the ceiling only if it sets every smallest cap: the agent's default
        # (the caller sums the shares back) or a single action's own cap.
        one_field = not own_cap[lowest].any() or int(lowest.sum()) == 1
        share = slope / max(int(lowest.sum()), 1) if one_field else 0.0
        cap_slope = np.where(lowest, share, 0.0)
    else:
        cap_slope = -np.maximum(incentive * detection - a, 0.0)
    return incentive, cap_slope
