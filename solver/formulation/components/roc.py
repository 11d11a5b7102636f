"""Monitors described by ROC curves (AI-control style auditing of the most suspicious episodes).

A monitor j with ``roc`` scores every episode; the principal picks a threshold, and the rate
x_j is the fraction of honest episodes flagged (the false-positive rate), each of which is
audited (cost c_j x_j) and cleared without penalty. An action i is then caught with the
true-positive rate h_ij(x_j), where h_ij is the upper concave envelope of the ROC points
(randomising between two thresholds reaches any point between them; Greenblatt et al. 2024,
"AI Control", audit the top fraction of suspicion scores). Detection adds up as in the linear
model:

    P_i(x) = min(1, sum_j q_ij x_j + sum_{ROC j} h_ij(x_j)).

h_ij is concave and piecewise linear, h(x) = min_k (s_k x + b_k) over its segments, so a
variable t_ij with t_ij <= s_k x_j + b_k for every segment k is its hypograph, and

    P_i <= Q_i x + sum_j t_ij,  P_i <= 1

keeps the program a linear program (exact, since the incentive rows only need P large).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ...model.arrays import ProblemArrays
from .base import Context, Value
from .detection import DetectionHandles, LinearDetection


class RocDetection(LinearDetection):
    """Linear detection plus the hypographs of the ROC envelopes."""

    def __init__(self, arrays: ProblemArrays) -> None:
        row_of = {int(i): k for k, i in enumerate(arrays.deviations)}
        segments = [len(curve.segments[0]) for curve in arrays.roc]
        #: (deviation row, monitor, number of segments) per curve: the program's structure.
        self.structure = tuple(
            (row_of[curve.action], curve.monitor, n)
            for curve, n in zip(arrays.roc, segments, strict=True)
        )

    def shape_key(self, arrays: ProblemArrays) -> tuple[Any, ...]:
        return (type(self).__name__, self.structure)

    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        slope = [curve.segments[0] for curve in arrays.roc]
        intercept = [curve.segments[1] for curve in arrays.roc]
        return {
            **super().values(arrays),
            "roc_slope": np.concatenate(slope),
            "roc_intercept": np.concatenate(intercept),
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> DetectionHandles:
        n_curves = len(self.structure)
        counts = np.array([n for _, _, n in self.structure], dtype=int)
        n_segments = int(counts.sum())
        curve_of_segment = np.repeat(np.arange(n_curves), counts)
        monitor_of_segment = np.repeat([j for _, j, _ in self.structure], counts)
        ones = np.ones(n_segments)
        pick_curve = sp.csr_matrix(
            (ones, (np.arange(n_segments), curve_of_segment)), shape=(n_segments, n_curves)
        )
        pick_rate = sp.csr_matrix(
            (ones, (np.arange(n_segments), monitor_of_segment)),
            shape=(n_segments, ctx.n_monitors),
        )
        to_action = sp.csr_matrix(
            (np.ones(n_curves), ([row for row, _, _ in self.structure], np.arange(n_curves))),
            shape=(ctx.n_deviations, n_curves),
        )
        slope = ctx.add_data("roc_slope", values["roc_slope"])
        intercept = ctx.add_data("roc_intercept", values["roc_intercept"])
        caught = cp.Variable(n_curves, name="roc_detection")  # t_ij
        envelope = pick_curve @ caught <= cp.multiply(slope, pick_rate @ ctx.rates) + intercept
        return self.compile_with(ctx, values, extra=to_action @ caught, envelope=envelope)
