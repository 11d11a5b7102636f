"""Linear detection: each inspection is an independent chance to catch the action.

P_i(x) = min(1, sum_j q_ij x_j)    and    P_0(x) = sum_j f_j x_j   (false flags)

(spec format v1). The program's P_i is a lower bound on min(1, Qx) (P_i <= Q_i x,
P_i <= 1), which is exact for what the incentive constraints need: they only ask P_i to be
large enough, and the reported detection is recomputed as min(1, Qx) after the solve.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..arrays import ProblemArrays
from .base import Component, Context, Value


class LinearDetection(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        return {
            "detection_matrix": arrays.detection[arrays.deviations],
            "false_positive": arrays.false_positive,
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> None:
        q = ctx.add_data("detection_matrix", values["detection_matrix"], nonneg=True)
        f = ctx.add_data("false_positive", values["false_positive"], nonneg=True)
        ctx.constraints["detection_reach"] = ctx.detection <= q @ ctx.rates
        ctx.constraints["detection_at_most_one"] = ctx.detection <= 1
        ctx.constraints["false_flags"] = ctx.false_flags == f @ ctx.rates
