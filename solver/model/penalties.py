"""Penalty levels under a penalty design, in numpy (shared by the program, solve and verify).

Design "fixed": every penalty at its cap (spec format v1). "per_action": F_i in [0, cap_i],
costing a sum_i F_i. "shared": one level F for every non-compliant action, in
[0, min_i cap_i], costing a F. See solver/formulation/components/penalty.py,
solver/engine/penalty_polish.py and docs/model.md.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .arrays import ProblemArrays
from .utility import FloatArray


def penalty_ceiling(arrays: ProblemArrays) -> FloatArray:
    """The largest penalty of each non-compliant action under the design.

    per_action and fixed: its own cap. shared: one level for every action, so the smallest cap.
    """
    caps = arrays.penalty_cap[arrays.deviations]
    if arrays.penalty_design == "shared":
        return np.full_like(caps, float(caps.min()) if caps.size else 0.0)
    return np.asarray(caps)


def at_ceilings(arrays: ProblemArrays) -> ProblemArrays:
    """The arrays with each non-compliant action's cap lowered to its ceiling under the
    design (a shared level: the smallest cap; otherwise unchanged), so that a program or
    check that holds every penalty at its cap relaxes the design exactly: every policy the
    design allows has P_i F_i >= k_i with F_i <= ceiling_i, hence P_i ceiling_i >= k_i (a
    risk-neutral agent, the only one a design accepts). Used to prove a design infeasible
    with the fixed-penalty rows."""
    if arrays.penalty_design != "shared":
        return arrays
    caps = arrays.penalty_cap.copy()
    caps[arrays.deviations] = penalty_ceiling(arrays)
    return replace(arrays, penalty_cap=caps)


def deterrence_need(arrays: ProblemArrays) -> FloatArray:
    """k_i = g_i - g_0 + margin (risk-neutral agent), per non-compliant action."""
    dev = arrays.deviations
    return np.asarray(arrays.gain[dev] - arrays.gain[arrays.compliant] + arrays.margin)


def penalty_cost_of(arrays: ProblemArrays, penalties: FloatArray) -> float:
    """a times the penalty level (``penalties``: one per non-compliant action)."""
    if arrays.penalty_design == "fixed" or penalties.size == 0:
        return 0.0
    if arrays.penalty_design == "shared":
        return float(arrays.penalty_cost * np.max(penalties))
    return float(arrays.penalty_cost * np.sum(penalties))


def penalty_violations(
    arrays: ProblemArrays, penalties: FloatArray
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Violations (> 0 means broken) of the design's limits, with the scale of each term.

    Nothing for the fixed design: its penalties are the caps by construction.
    """
    if arrays.penalty_design == "fixed":
        return {}
    ceiling = penalty_ceiling(arrays)
    scale = np.maximum(ceiling, 1.0)
    found = {
        "penalty_nonnegative": (-penalties, scale),
        "penalty_cap": (penalties - ceiling, scale),
    }
    if arrays.penalty_design == "shared" and penalties.size:
        found["penalty_shared"] = (np.abs(penalties - penalties[0]), scale)
    return found
