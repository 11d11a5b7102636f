"""Linear detection: each inspection is an independent chance to catch the action.

P_i(x) = min(1, sum_j q_ij x_j)    and    P_0(x) = sum_j f_j x_j   (false flags)

(spec format v1). The program's P_i is a lower bound on min(1, Qx) (P_i <= Q_i x,
P_i <= 1), which is exact for what the incentive constraints need: they only ask P_i to be
large enough, and the reported detection is recomputed as min(1, Qx) after the solve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ...model.arrays import ProblemArrays
from .base import Component, Context, Handles, Value


@dataclass(frozen=True)
class DetectionHandles(Handles):
    """How detection arises: P_i <= detection_i(x) ("reach") and the false-flag rate P_0."""

    reach: cp.Constraint
    false_flags: cp.Constraint
    at_most_one: cp.Constraint | None = None  # P_i <= 1 (linear detection only)
    envelope: cp.Constraint | None = None  # the ROC hypographs (RocDetection only)


class LinearDetection(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        return {
            "detection_matrix": arrays.detection[arrays.deviations],
            "false_positive": arrays.false_positive,
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> DetectionHandles:
        return self.compile_with(ctx, values, extra=None)

    def compile_with(
        self,
        ctx: Context,
        values: Mapping[str, Value],
        extra: cp.Expression | None,
        envelope: cp.Constraint | None = None,
    ) -> DetectionHandles:
        """The rows, with ``extra`` detection added to Q x (the ROC monitors' share) and
        ``envelope``, the rows that bound it, added after them."""
        q = ctx.add_data("detection_matrix", values["detection_matrix"], nonneg=True)
        f = ctx.add_data("false_positive", values["false_positive"], nonneg=True)
        reach = q @ ctx.rates if extra is None else q @ ctx.rates + extra
        handles = DetectionHandles(
            reach=ctx.constrain(ctx.detection <= reach),
            at_most_one=ctx.constrain(ctx.detection <= 1),
            false_flags=ctx.constrain(ctx.false_flags == f @ ctx.rates),
            envelope=envelope,
        )
        if envelope is not None:  # added last, as the rows have always been ordered
            ctx.constrain(envelope)
        return handles


def overlapping_inspections(arrays: ProblemArrays, rates: np.ndarray) -> tuple[str, ...]:
    """Notes on actions whose detecting monitors' rates add up to more than 1.

    Linear detection counts each inspection as a separate chance, which a schedule can
    honour only when the inspections of one episode never overlap, i.e. when the rates of the
    monitors that detect an action add up to at most 1. Above that, overlap is forced, and
    for independent monitors P(caught) = 1 - prod_j (1 - q_ij x_j) is below sum_j q_ij x_j.
    """
    if arrays.detection_model != "linear":
        return ()
    # sum_j [q_ij > 0] x_j per action, straight from the CSR arrays (row slicing a sparse
    # matrix costs more than the whole sum: this runs once for every answer of a batch).
    q = arrays.detection  # a CSR matrix (from_spec), else converted
    if not isinstance(q, sp.csr_matrix):
        q = sp.csr_matrix(q)
    rows = np.repeat(np.arange(q.shape[0]), np.diff(q.indptr))
    weights = np.where(q.data > 0, np.asarray(rates, dtype=float)[q.indices], 0.0)
    coverage = np.bincount(rows, weights=weights, minlength=q.shape[0])[arrays.deviations]
    return overlap_notes(arrays, coverage)


def overlap_notes(arrays: ProblemArrays, coverage: np.ndarray) -> tuple[str, ...]:
    """:func:`overlapping_inspections`' notes from each deviation's coverage, the sum of
    the rates of the monitors that detect it."""
    over = [
        (arrays.action_names[i], float(c))
        for i, c in zip(arrays.deviations, coverage, strict=True)
        if c > 1 + 1e-9
    ]
    if not over:
        return ()
    names = ", ".join(f"{name} ({total:.3g})" for name, total in over)
    return (
        "the rates of the monitors that detect " + names + " add up to more than 1: their "
        "inspections must overlap, and linear detection then overstates P(caught) for "
        'independent monitors; set [oversight] detection = "exponential" to model them',
    )
