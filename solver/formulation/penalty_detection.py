"""Penalty design written in the detections: a convex program whose multipliers price the
detection rows (``engine/penalty_polish.py`` turns them into an exact lower bound).

With linear detection and a risk-neutral agent, the penalty F_i = k_i / t_i that deters an
action detected with probability t_i is least where t_i is largest, so the design is

    minimise  c.x + a pen(k / t)   s.t.  t_i <= Q_i x,  k_i / cap_i <= t_i <= 1,
              l <= x <= h,  c.x <= B,
    pen = sum_i k_i / t_i (per action)  or  max_i k_i / t_i (one shared level),

convex in (x, t) (1 / t is convex for t > 0; Boyd & Vandenberghe 2004, 3.1.5). It has a
strictly feasible point wherever the design is feasible with room, so its Lagrangian dual
has no gap, and the multipliers y_i of t_i <= Q_i x and nu of the budget are the ones the
penalty search's bound needs. The bound itself is recomputed from them in the model's units
(``penalty_polish.lower_bound``): these numbers are only where to look, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.utility import FloatArray
from .program import solve_problem


@dataclass(frozen=True)
class DetectionDuals:
    """The convex program's detections t, and the multipliers of t <= Q x and the budget
    (in the model's money per unit of detection and per unit of money)."""

    detection: FloatArray
    rows: FloatArray
    budget: float


def detection_program_duals(
    cost: FloatArray,
    detection: sp.csr_matrix,
    need: FloatArray,
    cap: FloatArray,
    penalty_cost: float,
    min_rate: FloatArray,
    max_rate: FloatArray,
    budget: float | None,
    *,
    shared: bool,
) -> DetectionDuals | None:
    """Solve the program of the module docstring with Clarabel (None without an answer)."""
    m, n = detection.shape[1], need.size
    if n == 0 or m == 0 or penalty_cost <= 0:
        return None
    scale = float(np.max(np.abs(cost), initial=0.0)) or 1.0  # money in units of the dearest
    x = cp.Variable(m)
    t = cp.Variable(n)
    rows = t <= sp.csr_matrix(detection) @ x
    constraints: list[cp.Constraint] = [
        rows,
        t >= need / cap,
        t <= 1.0,
        x >= min_rate,
        x <= max_rate,
    ]
    limit = None
    if budget is not None:
        limit = cost @ x <= budget
        constraints.append(limit)
    deterring = cp.multiply(need, cp.inv_pos(t))
    pen = cp.max(deterring) if shared else cp.sum(deterring)
    problem = cp.Problem(cp.Minimize((cost @ x + penalty_cost * pen) / scale), constraints)
    try:
        record = solve_problem(problem, "CLARABEL")
    except (cp.error.SolverError, ValueError, ArithmeticError):
        return None
    if record.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or rows.dual_value is None:
        return None
    y = np.maximum(np.asarray(rows.dual_value, dtype=float).ravel(), 0.0) * scale
    nu = 0.0
    if limit is not None and limit.dual_value is not None:
        nu = max(float(np.asarray(limit.dual_value).ravel()[0]), 0.0) * scale
    assert t.value is not None
    return DetectionDuals(np.asarray(t.value, dtype=float), y, nu)
