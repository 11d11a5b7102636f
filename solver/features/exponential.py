"""Exponential detection: diminishing returns to monitoring.

Each inspection by monitor j is an independent chance q_ij to catch action i, and a rate x_j
is read as an intensity, so

    P_i(x) = 1 - prod_j (1 - q_ij)^{x_j} = 1 - exp(-sum_j L_ij x_j),   L_ij = -ln(1 - q_ij),

which equals independent monitors when every x_j is 0 or 1, and is concave in x (1 - exp of
an affine function). The program holds its hypograph, P_i <= 1 - exp(-L_i x), an
exponential-cone constraint; the incentive rows only need P_i large enough, so this is exact.

False flags of the compliant action, P_0(x) = 1 - exp(-phi x) with phi_j = -ln(1 - f_j), enter
the incentive rows with a minus sign, so a concave P_0 cannot be held exactly. The program
uses its tangent at x = 0, P_0 <= phi x (1 - e^{-t} <= t): it never understates what an honest
agent expects to lose, so every policy it returns deters; the answer is exact whenever the
false-positive penalty is 0 or no monitor has false positives, and otherwise an upper bound
on the least cost (docs/model.md). Verification uses the exact P_0.
q_ij < 1 and f_j < 1 are enforced in the spec (spec_design.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import cvxpy as cp

from ..arrays import ProblemArrays
from ..detection_models import log_escape
from .base import Component, Context, Value


class ExponentialDetection(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        return {
            "log_escape": log_escape(arrays.detection[arrays.deviations]),
            "false_flag_tangent": log_escape(arrays.false_positive),
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> None:
        intensity = ctx.add_data("log_escape", values["log_escape"], nonneg=True)
        tangent = ctx.add_data("false_flag_tangent", values["false_flag_tangent"], nonneg=True)
        ctx.constraints["detection_reach"] = ctx.detection <= 1 - cp.exp(-(intensity @ ctx.rates))
        ctx.constraints["false_flags"] = ctx.false_flags == tangent @ ctx.rates
