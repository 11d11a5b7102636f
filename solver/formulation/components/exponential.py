"""Exponential detection: diminishing returns to monitoring.

Each inspection by monitor j is an independent chance q_ij to catch action i, and a rate x_j
is read as an intensity, so

    P_i(x) = 1 - prod_j (1 - q_ij)^{x_j} = 1 - exp(-sum_j L_ij x_j),   L_ij = -ln(1 - q_ij),

which equals independent monitors when every x_j is 0 or 1, and is concave in x (1 - exp of
an affine function). The program holds its hypograph, P_i <= 1 - exp(-L_i x), an
exponential-cone constraint; the incentive rows only need P_i large enough, so this is exact.

False flags of the compliant action, P_0(x) = 1 - exp(-phi x) with phi_j = -ln(1 - f_j), enter
the incentive rows with a minus sign, so a concave P_0 cannot be held exactly by one convex
program. This component holds its tangent at x = 0, P_0 <= phi x, a restriction; specs whose
rows carry a false-flag term are solved by the global search instead (engine/flag_search.py,
formulation/flag_nodes.py), and this program only serves specs where that term is 0 at every
row that can bind. Verification uses the exact P_0.
q_ij < 1 and f_j < 1 are enforced in the spec (spec_design.py).

Without a false-flag term (no false-positive penalty, or no monitor with false positives)
each incentive row only asks P_i >= p_i = k_i / d_i, a fixed threshold, and

    1 - exp(-L_i x) >= p_i   <=>   L_i x >= -ln(1 - p_i)        (p_i < 1),

a linear row: :class:`ExponentialThresholds` holds these and the program is a linear program,
solved exactly by HiGHS and certified by its duals. It also avoids the cancellation in
1 - exp(-t) for tiny t, which left the cone form unable to deter gains of 1e-6 on a cap of 1.
"""

from __future__ import annotations

from collections.abc import Mapping

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ...model.arrays import ProblemArrays
from ...model.detection import log_escape
from ...model.utility import FloatArray
from .base import Component, Context, DualOf, Handles, Value
from .detection import DetectionHandles
from .deterrence import IncentiveHandles, incentive_rows, incentive_shadow_prices


class ExponentialDetection(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        return {
            "log_escape": log_escape(arrays.detection[arrays.deviations]),
            "false_flag_tangent": log_escape(arrays.false_positive),
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> DetectionHandles:
        intensity = ctx.add_data("log_escape", values["log_escape"], nonneg=True)
        tangent = ctx.add_data("false_flag_tangent", values["false_flag_tangent"], nonneg=True)
        return DetectionHandles(
            reach=ctx.constrain(ctx.detection <= 1 - cp.exp(-(intensity @ ctx.rates))),
            false_flags=ctx.constrain(ctx.false_flags == tangent @ ctx.rates),
        )


class ExponentialThresholds(Component):
    """Full deterrence under exponential detection as linear rows (no false-flag term).

    Row i is scaled by w_i = 1 - p_i, so that its multiplier is d(cost)/d(p_i) at the
    optimum (envelope theorem: d/dp [-(1-p) ln(1-p) - (1-p) L_i x] = 1 + ln(1-p) + L_i x,
    which is 1 where the row binds), the same reading as the linear model's rows; a threshold
    p_i >= 1 cannot be reached by any finite rate and gets the impossible row 0 >= 1.
    """

    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        rows = incentive_rows(arrays)
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold = np.where(rows.loss > 0, rows.need / rows.row_scale, np.inf)
        # Zero-loss rows (cap 0) deter only actions that do not pay: 0 >= need.
        threshold = np.where((rows.loss <= 0) & (rows.need <= 0), -np.inf, threshold)
        reachable = threshold < 1
        weight = np.where(reachable, np.clip(1 - threshold, 0.0, 1.0), 0.0)
        weight = np.where(threshold <= 0, 1.0, weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(threshold > 0, -np.log1p(-np.minimum(threshold, 1.0)), 0.0)
        rhs = np.where(reachable, weight * np.where(np.isfinite(level), level, 0.0), 1.0)
        intensity = sp.csr_matrix(log_escape(arrays.detection[arrays.deviations]))
        return {
            "threshold_matrix": sp.diags(weight) @ intensity,
            "threshold": rhs,
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> IncentiveHandles:
        matrix = ctx.add_data("threshold_matrix", values["threshold_matrix"], nonneg=True)
        threshold = ctx.add_data("threshold", values["threshold"])
        return IncentiveHandles(ctx.constrain(matrix @ ctx.rates >= threshold))

    def shadow_prices(
        self, arrays: ProblemArrays, handles: Handles, dual_of: DualOf, rates: FloatArray
    ) -> dict[str, float] | None:
        # Each row is scaled so that its multiplier reads as the linear model's (class doc).
        assert isinstance(handles, IncentiveHandles)
        return incentive_shadow_prices(arrays, dual_of(handles.incentive), rates)
