"""Each action's and each monitor's account of an optimal policy, priced by the engine's
verified duals (the identities are in ``explain.py``'s docstring and docs/model.md)."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from ..model.arrays import ProblemArrays
from ..model.detection import detection_slopes, log_escape
from ..results.result import Duals, Result
from .explanation import SMALL, ActionAccount, MonitorAccount


def action_accounts(
    arrays: ProblemArrays, result: Result, duals: Duals | None
) -> tuple[ActionAccount, ...]:
    rates = np.array([result.monitor(name).rate for name in arrays.monitor_names])
    shares = utility_shares(arrays, result)
    # Rows read from the CSR arrays, not sliced one by one (a scipy slice per action was
    # most of explaining 10,000 actions, issue 25); the same dense row is then built.
    # Each monitor's part of an action's detection: q_ij x_j, or for exponential detection
    # its part of the intensity -ln(1 - P_i) = sum_j L_ij x_j.
    detection = sparse.csr_matrix(
        log_escape(arrays.detection)
        if arrays.detection_model == "exponential"
        else arrays.detection
    )
    indptr, indices, data = detection.indptr, detection.indices, detection.data
    accounts = []
    for k, i in enumerate(arrays.deviations):
        name = arrays.action_names[i]
        action = result.action(name)
        q = np.zeros(len(rates))
        row = slice(indptr[i], indptr[i + 1])
        np.add.at(q, indices[row], data[row])  # as todense() does, duplicates summed
        reach = q * rates
        total = float(reach.sum())
        order = np.argsort(-reach)
        kept = order[reach[order] > SMALL * max(total, 1.0)] if total > 0 else order[:0]
        detected_by = {arrays.monitor_names[j]: float(reach[j] / total) for j in kept}
        accounts.append(
            ActionAccount(
                name=name,
                gain_over_compliant=float(arrays.gain[i] - arrays.gain[arrays.compliant]),
                detection=action.detection,
                expected_penalty=action.expected_penalty,
                deterred=action.deterred,
                binding=action.binding,
                shadow_price=float(action.shadow_price or 0.0),
                detection_price=float(duals.reach[k]) if duals is not None else 0.0,
                detected_by=detected_by,
                risk_aversion=float(arrays.risk_aversion),
                utility_share=None if shares is None else shares[k],
            )
        )
    return tuple(accounts)


def utility_shares(arrays: ProblemArrays, result: Result) -> list[float | None] | None:
    """For a CARA agent, (P_i - w_i P_0) / n_i per non-compliant action at the reported
    detections: the program's rows (``Deterrence``), finite in log space where utilities
    overflow. None for a risk-neutral agent."""
    if arrays.risk_aversion == 0:
        return None
    from ..formulation.components.deterrence import Deterrence

    values = Deterrence().values(arrays)
    shape = arrays.deviations.shape
    need = np.broadcast_to(np.asarray(values["need"], dtype=float), shape)
    flag = np.broadcast_to(np.asarray(values["false_flag_weight"], dtype=float), shape)
    weight = np.broadcast_to(np.asarray(values["detection_weight"], dtype=float), shape)
    p0 = result.action(arrays.action_names[arrays.compliant]).detection
    shares: list[float | None] = []
    for k, i in enumerate(arrays.deviations):
        if not need[k] > 0:  # nothing to make up (a non-paying action); 0 would divide
            shares.append(None)
            continue
        p = result.action(arrays.action_names[i]).detection
        with np.errstate(all="ignore"):
            share = (float(weight[k]) * p - float(flag[k]) * p0) / float(need[k])
        shares.append(share if math.isfinite(share) else None)
    return shares


def monitor_accounts(
    arrays: ProblemArrays, result: Result, duals: Duals | None
) -> tuple[MonitorAccount, ...]:
    accounts = []
    dev = arrays.deviations
    rates = np.array([result.monitor(name).rate for name in arrays.monitor_names])
    # dP_i/dx_j at the optimum: q_ij for linear detection, L_ij (1 - P_i) for exponential
    slopes, flag_slopes = detection_slopes(arrays, rates)
    q = slopes[dev]  # deviations x monitors
    for j, name in enumerate(arrays.monitor_names):
        m = result.monitor(name)
        if m.at_bound == "max_rate":
            state = "ceiling"
        elif m.at_bound == "min_rate":
            state = "floor"
        elif m.rate <= 1e-9:
            state = "unused"
        else:
            state = "interior"
        buys: dict[str, float] = {}
        value = drag = 0.0
        if duals is not None:
            contributions = np.asarray(duals.reach) * q[:, j]
            drag = duals.false_flag * float(flag_slopes[j])
            value = float(contributions.sum()) - drag
            gross = float(contributions.sum())
            if gross > SMALL:
                for k in np.argsort(-contributions):
                    if contributions[k] > SMALL * gross:
                        buys[arrays.action_names[dev[k]]] = float(contributions[k] / gross)
        marginal_for = tuple(buys) if state == "interior" else ()
        break_even = value if state == "unused" and m.unit_cost > value else None
        accounts.append(
            MonitorAccount(
                name=name,
                rate=m.rate,
                cost=m.cost,
                unit_cost=m.unit_cost,
                state=state,
                value_per_rate=value,
                buys=buys,
                false_flag_drag=drag,
                marginal_for=marginal_for,
                break_even_cost=break_even,
            )
        )
    return tuple(accounts)
