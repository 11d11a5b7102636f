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
certificate on this program.
"""

from __future__ import annotations

from typing import Any, cast

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Equality, Inequality

from ..model.arrays import ProblemArrays
from .components import components_for
from .components.base import Context
from .components.deterrence import Deterrence
from .program import CompiledProgram, shape_key

#: Smallest unit a variable is measured in (CARA agents facing huge penalties need detection
#: probabilities like exp(-700): units go down to near the float range, not to round-off).
UNIT_FLOOR = 1e-300


def detection_units(arrays: ProblemArrays) -> np.ndarray:
    """u_i: the detection each deviation needs (k_i / d_i), clipped to [UNIT_FLOOR, 1]."""
    values = Deterrence().values(arrays)  # the rows as compiled: need = k_i / d_i
    needed = np.where(
        np.asarray(values["detection_weight"]) > 0, np.asarray(values["need"], dtype=float), 1.0
    )
    needed = np.where(np.isfinite(needed), needed, 1.0)
    return np.clip(needed, UNIT_FLOOR, 1.0)


def rate_units(arrays: ProblemArrays, units: np.ndarray) -> np.ndarray:
    """s_j: the rate at which monitor j alone gives its easiest deviation the detection it needs."""
    q = sp.csr_matrix(arrays.detection[arrays.deviations]).tocoo()
    scale = np.full(arrays.n_monitors, np.inf)
    if q.nnz:
        np.minimum.at(scale, q.col, units[q.row] / q.data)
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
        column_max = abs(matrix).max(axis=0)
        norms = np.maximum(norms, np.asarray(column_max.todense()).ravel())
    return norms


def scaled_program(arrays: ProblemArrays) -> CompiledProgram:
    """The program for ``arrays`` in data-chosen units with equilibrated rows (see module doc)."""
    components = components_for(arrays)
    n, m = len(arrays.deviations), arrays.n_monitors
    units = detection_units(arrays)
    rate_unit = rate_units(arrays, units)
    y = cp.Variable(m, name="scaled_rates")
    p = cp.Variable(n, name="scaled_detection")
    ctx = Context(
        n_deviations=n,
        n_monitors=m,
        parametric=False,
        # Components see the model's variables as expressions in the scaled ones.
        rates=cast(Any, cp.multiply(rate_unit, y)),
        detection=cast(Any, cp.multiply(units, p)),
        false_flags=cp.Variable(name="false_flags"),
    )
    for component in components:
        component.compile(ctx, component.values(arrays))
    objective = cp.sum(list(ctx.objective.values()))
    problem = cp.Problem(cp.Minimize(objective), list(ctx.constraints.values()))
    variables = problem.variables()
    saved = [v.value for v in variables]
    for variable in variables:
        variable.value = np.zeros(variable.shape)
    try:
        rebuilt: dict[str, cp.Constraint] = {}
        for name, constraint in ctx.constraints.items():
            rebuilt[name] = _equilibrated(constraint, variables)
        gradient = [g for g in objective.grad.values() if g is not None]
        largest = max((float(abs(sp.csc_matrix(g)).max()) for g in gradient), default=1.0)
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.value = value
    objective_scale = 1.0 / largest if largest > 0 else 1.0
    ctx.constraints = rebuilt
    problem = cp.Problem(cp.Minimize(objective_scale * objective), list(rebuilt.values()))
    program = CompiledProgram(components, ctx, problem, ("scaled", *shape_key(arrays, components)))
    program.objective_scale = objective_scale  # type: ignore[attr-defined]
    return program


def _equilibrated(constraint: cp.Constraint, variables: list[cp.Variable]) -> cp.Constraint:
    if not isinstance(constraint, Inequality | Equality) or not constraint.expr.is_affine():
        return constraint
    norms = _row_norms(constraint, variables)
    if norms is None or norms.size == 0:
        return constraint
    weight = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 1.0)
    weight = weight.reshape(constraint.expr.shape, order="F") if constraint.expr.shape else weight
    if constraint.expr.shape:
        expr = cp.multiply(weight, constraint.expr)
    else:
        expr = float(weight[0]) * constraint.expr
    scaled = expr <= 0 if isinstance(constraint, Inequality) else expr == 0
    scaled.row_weight = weight
    return scaled


def restore_duals(program: CompiledProgram) -> None:
    """Turn the equilibrated rows' duals back into the model rows' (times each row's weight)."""
    scale = float(getattr(program, "objective_scale", 1.0))
    for constraint in program.context.constraints.values():
        weight = getattr(constraint, "row_weight", None)
        if weight is None or constraint.dual_value is None:
            continue
        dual = np.asarray(constraint.dual_value, dtype=float) * np.asarray(weight) / scale
        constraint.save_dual_value(dual)
