"""Full deterrence: for every non-compliant action i, complying pays at least as much.

Incentive compatibility (Becker 1968, with CARA utility u as in Allingham & Sandmo 1972):

    (1 - P_i) u(g_i) + P_i u(g_i - F_i)  <=  (1 - P_0) u(g_0) + P_0 u(g_0 - F_fp) - margin

Both sides are linear in the probabilities, so with d_i = u(g_i) - u(g_i - F_i) (the utility
lost when caught), d_0 = u(g_0) - u(g_0 - F_fp) and k_i = u(g_i) - u(g_0) + margin:

    d_i P_i - d_0 P_0 >= k_i.

Wealth is measured relative to g_0 (multiplying the row by exp(r g_0) > 0) and each row is
divided by d_i, so the program holds the well-scaled rows  P_i - (d_0/d_i) P_0 >= k_i/d_i.
Ties go to the principal: an indifferent agent complies (the inequality is not strict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ...model.arrays import ProblemArrays
from ...model.stable import stable_incentive_rows
from ...model.utility import FloatArray, caught_loss, utility
from .base import Component, Context, Value


@dataclass(frozen=True)
class IncentiveRows:
    """d_i P_i - d_0 P_0 >= k_i for the non-compliant actions, in relative-wealth units."""

    loss: FloatArray  # d_i
    false_flag_loss: float  # d_0
    need: FloatArray  # k_i

    @property
    def row_scale(self) -> FloatArray:
        """What each row is divided by in the program: d_i, or 1 where d_i is 0."""
        return np.where(self.loss > 0, self.loss, 1.0)


def incentive_rows(arrays: ProblemArrays) -> IncentiveRows:
    r = arrays.risk_aversion
    dev = arrays.deviations
    relative_gain = arrays.gain[dev] - arrays.gain[arrays.compliant]
    scale = float(np.exp(r * arrays.gain[arrays.compliant])) if r else 1.0
    return IncentiveRows(
        loss=caught_loss(relative_gain, arrays.penalty_cap[dev], r),
        false_flag_loss=float(caught_loss(0.0, arrays.false_positive_penalty, r)),
        need=utility(relative_gain, r) + arrays.margin * scale,
    )


class Deterrence(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        rows = incentive_rows(arrays)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            need = rows.need / rows.row_scale
            flag_weight = rows.false_flag_loss / rows.row_scale
        weight = np.where(rows.loss > 0, 1.0, 0.0)
        if not all(np.all(np.isfinite(v)) for v in (need, flag_weight, rows.loss)):
            # CARA numbers beyond exp's range (r x gain of 1e3 and more): the same rows,
            # computed as ratios in log space (stable.py).
            dev = arrays.deviations
            need, flag_weight, weight = stable_incentive_rows(
                arrays.gain[dev] - arrays.gain[arrays.compliant],
                arrays.penalty_cap[dev],
                arrays.false_positive_penalty,
                arrays.risk_aversion,
                arrays.margin,
                float(arrays.gain[arrays.compliant]),
            )
        return {"need": need, "false_flag_weight": flag_weight, "detection_weight": weight}

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> None:
        need = ctx.add_data("need", values["need"])
        weight = ctx.add_data("detection_weight", values["detection_weight"], nonneg=True)
        flag_weight = ctx.add_data("false_flag_weight", values["false_flag_weight"], nonneg=True)
        ctx.constraints["incentive"] = (
            cp.multiply(weight, ctx.detection) - flag_weight * ctx.false_flags >= need
        )
