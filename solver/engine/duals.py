"""The core program's multipliers at a verified answer, in the model's units.

Read from the program the answer came from (the attempt that verified and was certified,
rescaled or not: ``CompiledProgram.dual_of`` gives every dual in the original program's
units), so ``deter explain`` prices constraints with the duals the certificate checked
instead of re-solving. The rows are scaled in the program (``incentive_rows``,
``cost_scale``); this undoes that scaling (docs/model.md, "Explaining a policy").
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ..formulation.components.detection import DetectionHandles
from ..formulation.components.deterrence import IncentiveHandles, incentive_rows
from ..formulation.components.monitoring import BudgetHandles, RateHandles, cost_scale
from ..formulation.program import CompiledProgram
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from ..results.result import Duals


def read_duals(
    program: CompiledProgram, arrays: ProblemArrays, slack: np.ndarray | None = None
) -> Duals:
    """lambda, eta, zeta, mu, the floors' and the budget's multipliers (zero where the
    program has no such row or the solver returned none, and for the deviations whose row
    ``slack`` marks as slack at the answer; negative round-off clipped)."""
    scale = cost_scale(arrays)
    n, m = len(arrays.deviations), arrays.n_monitors

    def dual(constraint: cp.Constraint | None, size: int) -> FloatArray:
        value = None if constraint is None else program.dual_of(constraint)
        if value is None:
            return np.zeros(size)
        return np.asarray(np.maximum(value, 0.0) * scale)

    bounds = program.find(RateHandles)
    deterrence = program.find(IncentiveHandles)
    detection = program.find(DetectionHandles)
    budget_row = program.find(BudgetHandles)
    rows = incentive_rows(arrays)
    # in units of the program's scaled rows
    program_incentive = dual(deterrence.incentive if deterrence else None, n)
    if slack is not None:
        program_incentive = np.where(slack, 0.0, program_incentive)
    # A row of scale 0 is vacuous (nothing to deter): its multiplier is 0, not 0/0.
    scaled = rows.row_scale > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        incentive = np.where(scaled, program_incentive / rows.row_scale, 0.0)
        flags = np.where(scaled, program_incentive * rows.false_flag_loss / rows.row_scale, 0.0)
    false_flag = float(np.sum(flags))
    budget = dual(budget_row.budget if budget_row else None, 1)
    if detection is None and arrays.detection_model == "exponential" and deterrence:
        # ExponentialThresholds: no P_i variable; each row L_i x >= -ln(1 - p_i), scaled by
        # 1 - p_i, has multiplier d(cost)/d(p_i), which is what eta_i is (the rows' class doc).
        reach = program_incentive
    else:
        reach = dual(detection.reach if detection else None, n)
    return Duals(
        incentive=floats_of(incentive, n),
        reach=floats_of(reach, n),
        false_flag=false_flag,
        ceiling=floats_of(dual(bounds.max_rate if bounds else None, m), m),
        floor=floats_of(dual(bounds.min_rate if bounds else None, m), m),
        budget=float(budget[0]) / scale if budget.size else 0.0,
    )


def floats_of(values: FloatArray, size: int) -> tuple[float, ...]:
    """``values`` broadcast to ``size`` plain floats (a ``Duals`` field)."""
    return tuple(float(v) for v in np.broadcast_to(np.asarray(values, dtype=float), (size,)))
