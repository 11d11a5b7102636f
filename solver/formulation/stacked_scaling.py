"""A stack in data-chosen units with equilibrated rows: the rescaled retry, for many specs.

A spec whose incentive rows need a detection of 1e-8 or 1e-16 (a CARA agent facing a cap
far above its gain: ``scaling.py``'s first case) is answered by a solver within its
absolute tolerance with every rate 0, and its block of a stack fails its checks. Alone,
such a spec is solved again on the rescaled program (``scaling.Rescaling``), which passes.
:func:`rescaled` does the same to a stack's blocks at once: it takes the stacked matrices
(``stacked.build_stack``) and changes units column by column,

    x_j = s_j y_j,   P_i = u_i P~_i,   P_0 = f_unit P~_0

(the same units as ``scaling.py``: ``detection_units``, ``rate_units``, ``false_flag_unit``
of each block's spec), then divides every row of ``G`` and ``E`` by its largest coefficient
and each block's objective by its largest. The program solved is that one; its point and
multipliers are mapped back to the stack's own units (z = D z~, lambda = R lambda~ / sigma_b:
the KKT conditions are invariant under the change), so the blocks are judged exactly as a
plain stack's, on the original matrices, by the same verification and certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.arrays import ProblemArrays, largest_magnitudes
from ..model.utility import FloatArray
from .program import SolveRecord, solve_problem
from .scaling import detection_units, false_flag_unit, rate_units
from .stacked import StackedProgram


class RescaledStack(StackedProgram):
    """A stack solved in data-chosen units (module docstring); read like the stack it
    rescales: ``primal`` and ``duals`` are in that stack's units."""

    def __init__(self, base: StackedProgram, members: Sequence[ProblemArrays]) -> None:
        for item in fields(base):
            setattr(self, item.name, getattr(base, item.name))
        self.record = None
        units = np.concatenate([_column_units(arrays) for arrays in members])
        self.units = units
        g = sp.csr_matrix(base.g @ sp.diags(units))
        e_matrix = sp.csr_matrix(base.e_matrix @ sp.diags(units))
        self.g_weights = _row_weights(g)
        self.e_weights = _row_weights(e_matrix)
        # Each block's objective divided by its own largest cost (the blocks are separable,
        # so the stack's optimum is still every block's): a block whose costs are 1e-21 is
        # solved to the solver's tolerance relative to its own costs, not to its neighbours'.
        c = base.c * units
        sigma = np.ones(len(base.blocks))
        for k, block in enumerate(base.blocks):
            largest = float(np.max(np.abs(c[block.columns]), initial=0.0))
            sigma[k] = 1.0 / largest if largest > 0 else 1.0
        self.g_scale = self.g_weights / _spread(sigma, [b.g_rows for b in base.blocks], g.shape[0])
        self.e_scale = self.e_weights / _spread(
            sigma, [b.e_rows for b in base.blocks], e_matrix.shape[0]
        )
        y = cp.Variable(units.size, name="rescaled_stack")
        self._y = y
        self._problem = cp.Problem(
            cp.Minimize((_spread(sigma, [b.columns for b in base.blocks], c.size) * c) @ y),
            [
                sp.diags(self.g_weights) @ g @ y <= self.g_weights * base.h,
                sp.diags(self.e_weights) @ e_matrix @ y == self.e_weights * base.e,
            ],
        )
        self._point: FloatArray | None = None
        self._multipliers: tuple[FloatArray, FloatArray] | None = None

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        self.record = solve_problem(self._problem, solver, **options)
        y = self._y.value
        self._point = None if y is None else np.asarray(y, dtype=float) * self.units
        lam = self._problem.constraints[0].dual_value
        nu = self._problem.constraints[1].dual_value
        self._multipliers = None
        if lam is not None and nu is not None:
            # A row of unit 1e-300 has a weight of 1e300: a dual beyond float range is inf,
            # which the certificate refuses (never a warning, never a false proof).
            with np.errstate(over="ignore", invalid="ignore"):
                self._multipliers = (
                    np.atleast_1d(np.asarray(lam, float)) * self.g_scale,
                    np.atleast_1d(np.asarray(nu, float)) * self.e_scale,
                )
        return self.record

    def primal(self) -> FloatArray | None:
        return self._point

    def duals(self) -> tuple[FloatArray, FloatArray] | None:
        return self._multipliers


def rescaled(base: StackedProgram, members: Sequence[ProblemArrays]) -> RescaledStack:
    """``base`` (a plain stack of ``members``, ``build_stack(members)``) in data-chosen
    units with equilibrated rows."""
    return RescaledStack(base, members)


def _column_units(arrays: ProblemArrays) -> FloatArray:
    """A block's column units, in its column order [x (m), P (n), P_0]."""
    detection = detection_units(arrays)
    return np.concatenate(
        [rate_units(arrays, detection), detection, [false_flag_unit(arrays)]]
    ).astype(float)


def _spread(values: FloatArray, parts: Sequence[slice], size: int) -> FloatArray:
    """A vector of ``size`` holding ``values[k]`` on each ``parts[k]``."""
    out = np.ones(size)
    for value, part in zip(values, parts, strict=True):
        out[part] = value
    return out


def _row_weights(matrix: sp.csr_matrix) -> FloatArray:
    """1 / the largest |coefficient| of each row (1 for an empty row)."""
    size = largest_magnitudes(matrix, axis=1)
    return np.where(size > 0, 1.0 / np.where(size > 0, size, 1.0), 1.0)
