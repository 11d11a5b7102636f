"""Saying why a spec cannot be met.

For each non-compliant action: the highest detection and expected penalty any allowed
monitoring reaches (ignoring the budget), whether that deters it, and a penalty cap that
would. For a budget: the least cost that full deterrence needs. The reason speaks money for
a risk-neutral agent and utility for a CARA one (the share of its gain's utility that the
expected utility lost when caught makes up), as the program's rows do.

Whether an action is deterrable is decided in the program's own rows (utility units, risk
aversion and false flags included, computed in log space beyond exp's range), never in
money. The diagnosis explains an infeasibility; it does not prove one: that is the
certificate of ``infeasibility.py``, which a diagnosed result carries in its reason.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from ..formulation.components.deterrence import Deterrence, can_bind, incentive_rows
from ..formulation.linear import solve_linear
from ..model.arrays import ProblemArrays
from ..model.detection import detection_probability, false_flag_rate, log_escape
from ..model.exact import ExactPolicy
from ..model.penalties import at_ceilings
from ..model.utility import FloatArray
from ..results.result import ActionDiagnosis, Diagnosis
from .infeasibility import Certificate


def _best_deterrence(
    arrays: ProblemArrays,
    row: int,
    loss: float,
    flag_loss: float,
    ceilings: Callable[[], tuple[FloatArray, float]] | None = None,
) -> tuple[float, float, FloatArray]:
    """max over allowed rates of d_i P_i - d_0 P_0, the program's incentive row; returns
    (P_i, P_0, the rates) at the maximiser. ``ceilings()``: every detection and the
    false-flag rate with every rate at its ceiling (computed once for all the actions).

    Without a false-positive penalty every rate at its ceiling maximises all detections at
    once. Otherwise: linear detection (with ROC envelopes) is a small LP in (x, P_i, t);
    exponential detection maximises d_i (1 - exp(-L_i x)) - d_0 (1 - exp(-phi x)), the
    model's row with the exact P_0, as the search and the certificate hold it.
    """
    i = arrays.deviations[row]
    f = arrays.false_positive
    if flag_loss == 0 or not np.any(f > 0):
        x = arrays.max_rate
        detections, flags = ceilings() if ceilings is not None else _rates_at_ceilings(arrays)
        return float(detections[i]), flags, x
    q = _detection_row(arrays, int(i))
    if not (math.isfinite(loss) and math.isfinite(flag_loss)):
        # Beyond float range (CARA with a huge false-positive penalty): a false flag then
        # outweighs any detection, so the best the monitors can do is raise none: every
        # monitor with false positives at its floor, the others at their ceilings.
        x = np.where(f > 0, arrays.min_rate, arrays.max_rate)
        return float(detection_probability(arrays, x)[i]), false_flag_rate(arrays, x), x
    bounds = [(lo, hi) for lo, hi in zip(arrays.min_rate, arrays.max_rate, strict=True)]
    if arrays.detection_model == "exponential":
        return _best_exponential(q, f, loss, flag_loss, bounds)
    m = arrays.n_monitors
    curves = [curve for curve in arrays.roc if curve.action == i]
    if not curves:
        x = _best_linear(q, f, loss, flag_loss, arrays.min_rate, arrays.max_rate)
        return min(1.0, float(q @ x)), float(f @ x), x
    n = len(curves)
    # variables (x_1..x_m, P, t_1..t_n); maximise loss * P - flag_loss * f.x
    c = np.concatenate([flag_loss * f, [-loss], np.zeros(n)])
    rows = [np.concatenate([-q, [1.0], -np.ones(n)])]  # P <= q.x + sum t
    bound_of_rows = [0.0]
    for k, curve in enumerate(curves):
        for slope, intercept in zip(*curve.segments, strict=True):
            row_k = np.zeros(m + 1 + n)  # t_k <= slope x_j + intercept
            row_k[curve.monitor], row_k[m + 1 + k] = -slope, 1.0
            rows.append(row_k)
            bound_of_rows.append(float(intercept))
    bounds += [(0.0, 1.0)] + [(None, None)] * n
    solution = solve_linear(
        np.asarray(c, dtype=float), np.array(rows), bound_of_rows, bounds=bounds
    )
    if not solution.optimal or solution.x is None:
        x = arrays.max_rate
        return float(detection_probability(arrays, x)[i]), float(f @ x), x
    x, p = solution.x[:m], float(solution.x[m])
    return p, float(f @ x), np.clip(x, arrays.min_rate, arrays.max_rate)


def _rates_at_ceilings(arrays: ProblemArrays) -> tuple[FloatArray, float]:
    """Every action's detection and the false-flag rate with every rate at its ceiling."""
    x = arrays.max_rate
    return detection_probability(arrays, x), false_flag_rate(arrays, x)


def _detection_row(arrays: ProblemArrays, i: int) -> FloatArray:
    """Action ``i``'s detection per monitor, dense (from the CSR arrays directly: scipy's
    row indexing costs more than the rest of an action's diagnosis)."""
    d = arrays.detection
    if not isinstance(d, sp.csr_matrix | sp.csr_array):
        return np.asarray(sp.csr_matrix(d)[i].todense(), dtype=float).ravel()
    q = np.zeros(d.shape[1])
    start, end = d.indptr[i], d.indptr[i + 1]
    np.add.at(q, d.indices[start:end], np.asarray(d.data[start:end], dtype=float))
    return q


def _best_linear(
    q: FloatArray, f: FloatArray, loss: float, flag_loss: float, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """argmax over the box of loss min(1, q x) - flag_loss f x, in closed form (the LP of
    ``_best_deterrence`` without ROC curves, a continuous knapsack): from the floors, raise
    the monitors in order of false flags per unit of detection, f_j / q_j, those whose
    detection is worth more than its false flags, until detection reaches 1 or the
    ceilings; returns the rates. No LP per action: a batch diagnoses in numpy."""
    x = np.array(lo, dtype=float)
    reached = float(q @ x)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(q > 0, f / q, np.inf)
    for j in np.argsort(price, kind="stable"):
        if reached >= 1.0 or not (q[j] > 0 and loss - flag_loss * price[j] > 0):
            break
        step = min(float(hi[j] - lo[j]), (1.0 - reached) / float(q[j]))
        x[j] += step
        reached += step * float(q[j])
    return x


def _best_exponential(
    q: FloatArray, f: FloatArray, loss: float, flag_loss: float, bounds: list[tuple[float, float]]
) -> tuple[float, float, FloatArray]:
    """argmax over the box of loss (1 - exp(-L x)) - flag_loss (1 - exp(-phi x)), the model's
    row with the exact P_0 (not concave: a difference of concave functions); returns
    (P_i, P_0, the rates). L-BFGS-B from the box's corners, its diagonal and each monitor alone, the
    best kept (the row has one stationary point along any line of x, docs/model.md)."""
    intensity, flags = log_escape(q), log_escape(f)
    lower = np.array([lo for lo, _ in bounds], dtype=float)
    upper = np.array([hi for _, hi in bounds], dtype=float)

    def negative(x: FloatArray) -> tuple[float, FloatArray]:
        survive = float(np.exp(-(intensity @ x)))
        unflagged = float(np.exp(-(flags @ x)))
        value = loss * (1 - survive) - flag_loss * (1 - unflagged)
        return -value, -(loss * survive * intensity - flag_loss * unflagged * flags)

    starts = [lower + (upper - lower) * k / 8 for k in range(9)]
    for j in range(len(lower)):
        alone = lower.copy()
        alone[j] = upper[j]
        starts.append(alone)
    best_x, best_value = upper, -negative(upper)[0]
    for start in starts:
        solution = minimize(
            negative,
            start,
            jac=True,
            bounds=bounds,
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-12},
        )
        x = np.clip(solution.x, lower, upper)
        value = -negative(x)[0]
        if value > best_value:
            best_x, best_value = x, value
    p, p0 = float(-np.expm1(-(intensity @ best_x))), float(-np.expm1(-(flags @ best_x)))
    return p, p0, best_x


def cap_for(loss_needed: float, relative_gain: float, r: float) -> float | None:
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


def diagnose(
    arrays: ProblemArrays, least_cost: float | None = None, *, proof: Certificate | None = None
) -> Diagnosis:
    """Explain infeasibility. ``least_cost`` is the cost of full deterrence without budget;
    ``proof`` the certificate that the spec is infeasible, when one was checked. A penalty
    design is diagnosed at its ceilings (a shared level: the smallest cap)."""
    arrays = at_ceilings(arrays)
    rows = incentive_rows(arrays)
    program_rows = Deterrence().values(arrays)  # P_i - w_i P_0 >= n_i, finite where d_i is not
    shape = arrays.deviations.shape
    need_of = np.broadcast_to(np.asarray(program_rows["need"], dtype=float), shape)
    flag_of = np.broadcast_to(np.asarray(program_rows["false_flag_weight"], dtype=float), shape)
    weight_of = np.broadcast_to(np.asarray(program_rows["detection_weight"], dtype=float), shape)
    binding = can_bind(arrays)
    refuted = _refuted(proof)
    ceilings = functools.cache(functools.partial(_rates_at_ceilings, arrays))
    findings: list[ActionDiagnosis] = []
    for row, i in enumerate(arrays.deviations):
        name = arrays.action_names[i]
        cap = float(arrays.penalty_cap[i])
        loss = float(rows.loss[row])
        p, p0, best = _best_deterrence(arrays, row, loss, rows.false_flag_loss, ceilings)
        need = float(rows.need[row])
        detected, flagged = float(weight_of[row]) * p, float(flag_of[row]) * p0
        exactly = functools.partial(_deters_exactly, arrays, best, i)
        deterrable = not binding[row] or _reaches(detected, flagged, float(need_of[row]), exactly)
        if name in refuted:  # the proof (checked exactly) says no allowed policy deters it
            deterrable = False
        relative_gain = float(arrays.gain[i] - arrays.gain[arrays.compliant])
        if p > 0:
            cap_needed = cap_for(
                (need + rows.false_flag_loss * p0) / p, relative_gain, arrays.risk_aversion
            )
        else:
            cap_needed = None
        if deterrable:
            reason = "deterrable"
        elif p == 0:
            reason = "no monitor or audit can detect it, and it pays more than complying"
        else:
            reached = float(weight_of[row]) * p - float(flag_of[row]) * p0
            reason = _blocked_reason(
                arrays, p, cap, relative_gain, rows.false_flag_loss * p0, reached, need_of[row]
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
        bounded = proof is not None and least_cost == proof.least_cost_bound
        reason = (
            f"full deterrence needs an oversight cost of {'at least ' if bounded else ''}"
            f"{least_cost:.6g}, over the budget of {arrays.budget:.6g}"
        )
    else:
        reason = "the actions can each be deterred, but not all by one policy within the limits"
        if proof is not None:
            reason += f" (proof: {proof.describe()})"
    return Diagnosis(
        reason=reason, actions=tuple(findings), least_cost=least_cost, budget=arrays.budget
    )


def _blocked_reason(
    arrays: ProblemArrays,
    p: float,
    cap: float,
    relative_gain: float,
    flag_loss: float,
    reached: float,
    need: float,
) -> str:
    """Why the most monitoring allowed falls short, in the program's terms: money for a
    risk-neutral agent (expected penalty against gain), utility for a CARA agent (the share
    of the utility its gain brings that the expected utility lost when caught makes up:
    the program's row, P_i - w_i P_0 over n_i, finite in log space where utilities are not).
    """
    r = arrays.risk_aversion
    reason = f"the most monitoring allowed catches it with probability {p:.4g}"
    if r == 0:
        reason += f", an expected penalty of {p * cap:.4g}"
        if flag_loss > 0:
            reason += (
                f" (net of the {flag_loss:.4g} an honest agent then expects "
                f"to lose to false flags: {p * cap - flag_loss:.4g})"
            )
        return reason + f" against a gain of {relative_gain:.4g} over complying"
    share = reached / need if need > 0 and math.isfinite(reached / need) else 0.0
    kind = "risk-averse" if r > 0 else "risk-seeking"
    net = ", net of what false flags cost an honest agent," if flag_loss > 0 else ""
    return reason + (
        f"; to this {kind} agent (risk aversion {r:.4g}) the expected utility it loses to "
        f"penalties{net} is {share:.4g} times the utility its gain of {relative_gain:.4g} "
        "over complying brings (deterrence needs at least 1)"
    )


#: A row within this much (relative to its terms) of binding at the best policy is decided
#: exactly there (model/exact.py), as verification decides rows.
BAND = 1e-6


def _reaches(detected: float, flagged: float, need: float, exactly: Callable[[], bool]) -> bool:
    """The program's row w P - v P_0 >= n at the best policy (NaN: not), relative to the
    row's own terms, never with an absolute allowance: a CARA agent's need can be 1e-17 in
    these units, and an action no monitor detects (P = 0) does not reach it (issue 20:
    such an action was called deterrable beside a proof that it is not). Within BAND of
    binding, ``exactly()`` decides: a risk-seeking agent's need can exceed 1 by 1e-14."""
    terms = abs(detected) + abs(flagged) + abs(need)
    value = detected - flagged - need
    if not np.isfinite(value):
        return False
    if abs(value) <= BAND * terms:
        return exactly()
    return bool(value >= 0)


def _deters_exactly(arrays: ProblemArrays, rates: FloatArray, action: int) -> bool:
    """Whether ``rates`` deter ``action`` in exact arithmetic (verification's decision)."""
    try:
        return bool(ExactPolicy(arrays, rates).decide(int(action)).deterred)
    except (ValueError, ArithmeticError, OverflowError):
        return False


def _refuted(proof: Certificate | None) -> frozenset[str]:
    """The actions a certificate of infeasibility proves undeterrable on their own: its
    single row, when that row is an action's (a combination proves no one action)."""
    if proof is None or len(proof.rows) != 1:
        return frozenset()
    return frozenset(proof.actions)


def without_budget(arrays: ProblemArrays) -> ProblemArrays:
    """Penalties at their ceilings, without the budget: the least oversight cost, which is
    what a budget limits. A shared level's ceiling is the smallest cap (``at_ceilings``),
    not each action's own: the own caps would deter more cheaply than any level allowed."""
    return replace(at_ceilings(arrays), budget=None, penalty_design="fixed", penalty_cost=0.0)
