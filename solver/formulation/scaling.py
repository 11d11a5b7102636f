"""The rescaled retry: the same program in units chosen from the data, rows equilibrated.

The program deter compiles first is already in tidy units for ordinary specs (each incentive
row divided by the utility lost when caught, the objective by the largest cost). Two things
still defeat a solver's absolute tolerances (about 1e-7 to 1e-9) on numerically hard specs:

* a deviation whose gain is tiny next to its penalty cap (gain 1e-10, cap 1; or gain 1,
  cap 1e12) needs a detection probability P_i of the order of k_i/d_i = 1e-10: a solver may
  return P_i = 0 "within tolerance", and the agent is not deterred;
* a monitor that detects with probability 1e-9 needs a rate 1e9 times the detection needed.

This module builds the same program with a change of variables

    x_j = s_j y_j,     P_i = u_i P~_i,

where u_i = clip(k_i/d_i, UNIT_FLOOR, 1) is the detection the deviation needs and
s_j = clip(min_i u_i / q_ij, UNIT_FLOOR, max_rate_j) the rate at which monitor j alone would
give its easiest-to-catch deviation that detection (column scaling of the rates by their
detection strength). Every feature component compiles unchanged against the scaled
expressions; then each linear constraint row is divided by its largest coefficient and the
objective by its largest coefficient (row equilibration), so the variables y and P~ and
every row are of order one. The solution is mapped back (x = s y) and, as for any attempt,
checked independently by ``verify.py`` on the original arrays and by the duality
certificate on this program. :class:`Rescaling` is the reduction (apply / invert).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Equality, Inequality

from ..model.arrays import ProblemArrays, largest_magnitude, largest_magnitudes
from ..model.utility import FloatArray
from .components import Component, components_for
from .components.base import Context, Handles
from .components.deterrence import Deterrence, can_bind
from .program import CompiledProgram, compile_parts, shape_key

#: Smallest unit a variable is measured in (CARA agents facing huge penalties need detection
#: probabilities like exp(-700): units go down to near the float range, not to round-off).
UNIT_FLOOR = float(np.finfo(float).tiny)  # the smallest normal float64, 2.2e-308


def detection_units(arrays: ProblemArrays) -> np.ndarray:
    """u_i: the detection each deviation needs (k_i / d_i), clipped to [UNIT_FLOOR, 1]; 1 for
    a deviation whose row cannot bind (it never pays: its need says nothing about units)."""
    values = Deterrence().values(arrays)  # the rows as compiled: need = k_i / d_i
    # A row that cannot bind is compiled with weight 0 (Deterrence.values), as is one with
    # no penalty: neither sets a unit.
    binding = np.asarray(values["detection_weight"]) > 0
    needed = np.where(binding, np.asarray(values["need"], dtype=float), 1.0)
    needed = np.where(np.isfinite(needed) & (needed > 0), needed, 1.0)
    return np.clip(needed, UNIT_FLOOR, 1.0)


def false_flag_unit(arrays: ProblemArrays) -> float:
    """The unit P_0 is measured in: the most false flags any allowed policy raises."""
    most = float(arrays.false_positive @ arrays.max_rate)
    return float(np.clip(most, UNIT_FLOOR, 1.0)) if most > 0 else 1.0


def rate_units(arrays: ProblemArrays, units: np.ndarray) -> np.ndarray:
    """s_j: the rate at which monitor j alone gives its easiest deviation the detection it
    needs, over the deviations whose rows can bind."""
    q = sp.csr_matrix(arrays.detection[arrays.deviations]).tocoo()
    binding = can_bind(arrays)
    keep = binding[q.row] & (q.data > 0)
    rows, cols, data = q.row[keep], q.col[keep], q.data[keep]
    scale = np.full(arrays.n_monitors, np.inf)
    if rows.size:
        np.minimum.at(scale, cols, units[rows] / data)
    ceiling = np.where(arrays.max_rate > 0, arrays.max_rate, 1.0)
    scale = np.where(np.isfinite(scale), scale, ceiling)
    return np.clip(scale, UNIT_FLOOR, ceiling)


def _row_norms(constraint: cp.Constraint, variables: list[cp.Variable]) -> np.ndarray | None:
    """Largest |coefficient| of each row of an affine constraint (all variables at zero)."""
    gradients = constraint.expr.grad
    size = int(np.prod(constraint.expr.shape)) if constraint.expr.shape else 1
    norms = np.zeros(size)
    for gradient in gradients.values():
        if gradient is None:
            continue
        matrix = sp.csc_matrix(gradient)  # (variable size) x (rows)
        norms = np.maximum(norms, largest_magnitudes(matrix, axis=0))
    return norms


class RescaledProgram(CompiledProgram):
    """The program of a spec in data-chosen units with equilibrated rows (module doc).

    Built by :meth:`Rescaling.apply`. The components' handles name the model's rows as
    compiled; the problem holds their equilibrated copies, and :meth:`dual_of` maps a
    copy's dual back (the reduction's inverse), so every read-out works unchanged.
    """

    def __init__(
        self,
        parts: tuple[tuple[Component, Handles], ...],
        context: Context,
        problem: cp.Problem,
        key: tuple[Any, ...],
        reduction: Rescaling,
    ) -> None:
        super().__init__(parts, context, problem, key)
        self.reduction = reduction

    def dual_of(self, constraint: cp.Constraint) -> FloatArray | None:
        return self.reduction.invert_dual(constraint)

    @property
    def objective_scale(self) -> float:
        return self.reduction.objective_scale

    def variable_bounds(self, bound: float) -> dict[int, FloatArray]:
        """|z| <= ``bound`` in the model's units, per variable of this program: a scaled
        variable (y = x / s, P~ = P / u) is bounded by ``bound`` over its unit, so that a
        certificate judged here charges a column of tiny unit at its full range."""
        return {
            variable_id: np.broadcast_to(bound / unit, shape).astype(float)
            for variable_id, (unit, shape) in self.reduction.units.items()
        }


@dataclass
class Rescaling:
    """The rescaled retry as a reduction: ``apply`` builds the equilibrated program,
    ``invert_dual`` maps the dual of one of its rows back to the model's row.

    Row k of the model, g_k(z) <= 0, becomes w_k g_k(z) <= 0 with w_k = 1 / max|coefficient|,
    and the objective f becomes s f; a multiplier lambda~ of the equilibrated row is then
    lambda = lambda~ w / s for the model's row (KKT conditions are invariant under the
    change). Rates and detection are read through the scaled expressions x = s y, P = u P~,
    so the primal needs no inverse.
    """

    objective_scale: float = 1.0
    #: id of a model row -> (its equilibrated copy in the problem, the row weights w)
    rows: dict[int, tuple[cp.Constraint, FloatArray]] = field(default_factory=dict)
    #: id of a scaled variable -> (its unit, its shape): the model's quantity is unit * it
    units: dict[int, tuple[Any, tuple[int, ...]]] = field(default_factory=dict)

    @classmethod
    def apply(cls, arrays: ProblemArrays) -> RescaledProgram:
        """The program for ``arrays`` in data-chosen units with equilibrated rows."""
        components = components_for(arrays)
        n, m = len(arrays.deviations), arrays.n_monitors
        units = detection_units(arrays)
        rate_unit = rate_units(arrays, units)
        y = cp.Variable(m, name="scaled_rates")
        p = cp.Variable(n, name="scaled_detection")
        flags = cp.Variable(name="scaled_false_flags")
        flag_unit = false_flag_unit(arrays)
        ctx = Context(
            n_deviations=n,
            n_monitors=m,
            parametric=False,
            # Components see the model's variables as expressions in the scaled ones.
            rates=cp.multiply(rate_unit, y),
            detection=cp.multiply(units, p),
            # P_0 in units of the most it can be (f x at the ceilings), so that a large
            # weight on a small false-flag rate does not set the row's scale by itself.
            false_flags=cp.multiply(flag_unit, flags),
        )
        parts = compile_parts(arrays, components, ctx)
        objective = cp.sum(ctx.costs)
        variables = cp.Problem(cp.Minimize(objective), list(ctx.constraints)).variables()
        saved = [v.value for v in variables]
        for variable in variables:
            variable.value = np.zeros(variable.shape)
        reduction = cls()
        reduction.units = {
            y.id: (rate_unit, y.shape),
            p.id: (units, p.shape),
            flags.id: (flag_unit, flags.shape),
        }
        try:
            rebuilt = []
            for constraint in ctx.constraints:
                scaled, weight = _equilibrated(constraint, variables)
                rebuilt.append(scaled)
                if weight is not None:
                    reduction.rows[constraint.id] = (scaled, weight)
            gradient = [g for g in objective.grad.values() if g is not None]
            largest = max((largest_magnitude(g) for g in gradient), default=1.0)
        finally:
            for variable, value in zip(variables, saved, strict=True):
                variable.value = value
        reduction.objective_scale = 1.0 / largest if largest > 0 else 1.0
        problem = cp.Problem(cp.Minimize(reduction.objective_scale * objective), rebuilt)
        key = ("scaled", *shape_key(arrays, components))
        return RescaledProgram(parts, ctx, problem, key, reduction)

    def invert_dual(self, constraint: cp.Constraint) -> FloatArray | None:
        """The model row's dual, in the units of the program compiled without rescaling."""
        scaled, weight = self.rows.get(constraint.id, (constraint, None))
        if scaled.dual_value is None:
            return None
        dual = np.atleast_1d(np.asarray(scaled.dual_value, dtype=float))
        if weight is not None:
            # A row of unit 1e-300 has a weight of 1e300, and its objective often a scale of
            # the same order: the two are divided first (multiplying first overflowed to inf,
            # a null shadow price, where the multiplier is 14). A dual beyond float range is
            # still inf (the shadow price is then reported as null), not a warning.
            ratio = np.asarray(weight).ravel(order="F").reshape(dual.shape, order="F")
            with np.errstate(over="ignore", invalid="ignore"):
                return dual * (ratio / self.objective_scale)
        return dual / self.objective_scale


def _equilibrated(
    constraint: cp.Constraint, variables: list[cp.Variable]
) -> tuple[cp.Constraint, FloatArray | None]:
    """The row divided by its largest coefficient, and the weights (None: left as it was)."""
    if not isinstance(constraint, Inequality | Equality) or not constraint.expr.is_affine():
        return constraint, None
    norms = _row_norms(constraint, variables)
    if norms is None or norms.size == 0:
        return constraint, None
    weight = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 1.0)
    weight = weight.reshape(constraint.expr.shape, order="F") if constraint.expr.shape else weight
    if constraint.expr.shape:
        expr = cp.multiply(weight, constraint.expr)
    else:
        expr = float(weight[0]) * constraint.expr
    scaled = expr <= 0 if isinstance(constraint, Inequality) else expr == 0
    return scaled, np.asarray(weight)
