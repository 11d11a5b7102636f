"""A duality certificate for a solved linear program, computed by deter from the duals.

Feasibility alone (``verify.py``) says the answer deters; it does not say the answer is the
*least-cost* one. For a linear program the dual values prove that: with every constraint
written as ``g_k(z) <= 0`` (inequalities, multiplier lambda_k >= 0) or ``g_k(z) = 0``
(equalities, multiplier nu_k free), cvxpy's sign convention gives the Lagrangian

    L(z, lambda) = c'z + sum_k lambda_k' g_k(z),    g_k(z) = A_k z + b_k,

and for any multipliers with lambda >= 0 and zero stationarity residual
``s = c + sum_k A_k' lambda_k``, the dual objective ``D = sum_k lambda_k' b_k`` is a lower
bound on every feasible cost (weak duality, Boyd & Vandenberghe 2004, section 5.2). deter
computes A_k and b_k itself from each cvxpy constraint object (the gradient and the value at
z = 0 of its affine expression), so the certificate is generic over feature components:
a new feature's constraints are covered without code here. It reports

- the duality gap  P - D  (P the primal objective at the returned point),
- the stationarity residual  max|s|  (dual infeasibility), and
- the worst sign violation of the inequality multipliers,

each absolute and relative, and passes when all relative figures are within tolerance.
The gap is measured relative to max(|P|, |D|) with only a tiny absolute floor, so a cost of
1e-12 must be matched to the same relative accuracy as a cost of 1.

Programs that are not linear (a feature with a cone) get ``applies = False`` and pass on
the feasibility check alone.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Equality, Inequality, NonNeg, NonPos, Zero

from ..results.result import DualityCertificate

#: Largest relative duality gap and stationarity residual accepted.
GAP_TOLERANCE = 1e-6
#: Absolute floor under the relative gap: objectives are scaled to coefficients of order
#: one, so a gap below this is round-off in any spec.
GAP_FLOOR = 1e-13


def _flat(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel(order="F")


def is_linear_program(problem: cp.Problem) -> bool:
    return bool(problem.objective.expr.is_affine()) and all(
        isinstance(c, Inequality | Equality | Zero | NonNeg | NonPos) and c.expr.is_affine()
        for c in problem.constraints
    )


#: Programs with at most this many scalar variables read their coefficients by evaluation.
EVALUATION_LIMIT = 256


def affine_parts(
    expressions: list[cp.Expression], variables: list[cp.Variable]
) -> list[tuple[sp.csr_matrix, np.ndarray]]:
    """(A_k, b_k) with expressions[k](z) = A_k z + b_k, for the stacked variable vector z.

    Small programs (the common case, solved thousands of times in a batch) read the columns
    of A_k by evaluating each affine expression at z = 0 and at every unit vector e_j:
    exact for affine maps up to rounding, and some twenty times cheaper than cvxpy's
    symbolic gradients. Large programs use the gradients, stacked sparsely. Every variable's
    value is overwritten; the caller restores them.
    """
    size = sum(v.size for v in variables)
    # save_value, not the .value setter: the setter re-validates each point against the
    # variable's attributes, which costs more than the evaluation itself.
    for variable in variables:
        variable.save_value(np.zeros(variable.shape))
    constants = [_flat(e.value) for e in expressions]
    if size > EVALUATION_LIMIT:
        return [
            (_gradient_matrix(e, variables, b.size), b)
            for e, b in zip(expressions, constants, strict=True)
        ]
    columns: list[list[np.ndarray]] = [[] for _ in expressions]
    for variable in variables:
        unit = np.zeros(variable.size)
        for j in range(variable.size):
            unit[j] = 1.0
            variable.save_value(unit.reshape(variable.shape, order="F"))
            for k, expression in enumerate(expressions):
                columns[k].append(_flat(expression.value) - constants[k])
            unit[j] = 0.0
        variable.save_value(np.zeros(variable.shape))
    return [
        (sp.csr_matrix(np.column_stack(cols) if cols else np.zeros((b.size, 0))), b)
        for cols, b in zip(columns, constants, strict=True)
    ]


def _gradient_matrix(
    expression: cp.Expression, variables: list[cp.Variable], rows: int
) -> sp.csr_matrix:
    gradients = {v.id: g for v, g in expression.grad.items() if g is not None}
    # cvxpy's gradient is (variable size) x (expression size); stack the transposed blocks
    # side by side (sparse throughout: a 10,000-action spec stays cheap).
    blocks = [
        sp.csc_matrix(gradients[v.id]).T if v.id in gradients else sp.csr_matrix((rows, v.size))
        for v in variables
    ]
    return sp.csr_matrix(sp.hstack(blocks, format="csr"))


def duality_certificate(
    problem: cp.Problem,
    tolerance: float = GAP_TOLERANCE,
    objective_scale: float = 1.0,
) -> DualityCertificate:
    """Check the solved ``problem``'s duals against its primal point (see module docstring).

    ``objective_scale`` converts the program's objective back to the model's units (money)
    for the reported primal and dual objectives; the relative figures do not depend on it.
    """
    if not is_linear_program(problem):
        return DualityCertificate(
            applies=False,
            passed=True,
            tolerance=tolerance,
            reason="not a linear program: feasibility check only",
        )
    variables = sorted(problem.variables(), key=lambda v: v.id)
    saved = [v.value for v in variables]
    if any(value is None for value in saved):
        return _failed(tolerance, "the solver returned no primal point")
    duals = [c.dual_value for c in problem.constraints]
    if any(d is None for d in duals):
        return _failed(tolerance, "the solver returned no dual values")
    primal = float(problem.objective.expr.value)
    try:
        parts = affine_parts(
            [problem.objective.expr, *(c.expr for c in problem.constraints)], variables
        )
        c, constant = parts[0]
        c_dense = c.toarray().ravel().astype(float)
        stationarity = c_dense.copy()
        dual_objective = float(constant.sum())
        sign_violation = 0.0
        for constraint, dual, (a, b) in zip(problem.constraints, duals, parts[1:], strict=True):
            multiplier = _flat(dual)
            if isinstance(constraint, Inequality | NonPos):
                sign_violation = max(sign_violation, float(np.max(-multiplier, initial=0.0)))
            elif isinstance(constraint, NonNeg):  # expr >= 0: the Lagrangian term is -lambda expr
                sign_violation = max(sign_violation, float(np.max(-multiplier, initial=0.0)))
                multiplier = -multiplier
            stationarity += a.T @ multiplier
            dual_objective += float(multiplier @ b)
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.save_value(value)
    gap = primal - dual_objective
    relative_gap = abs(gap) / max(abs(primal), abs(dual_objective), GAP_FLOOR)
    c_norm = float(np.max(np.abs(c_dense), initial=0.0))
    residual = float(np.max(np.abs(stationarity), initial=0.0))
    relative_residual = residual / max(c_norm, 1.0)
    relative_sign = sign_violation / max(c_norm, 1.0)
    passed = bool(
        relative_gap <= tolerance and relative_residual <= tolerance and relative_sign <= tolerance
    )
    reason = (
        "gap and dual residual within tolerance"
        if passed
        else (
            f"relative duality gap {relative_gap:.3g}, dual residual {relative_residual:.3g}, "
            f"multiplier sign violation {relative_sign:.3g} (tolerance {tolerance:g})"
        )
    )
    return DualityCertificate(
        applies=True,
        passed=passed,
        tolerance=tolerance,
        primal_objective=primal * objective_scale,
        dual_objective=dual_objective * objective_scale,
        gap=gap * objective_scale,
        relative_gap=relative_gap,
        dual_residual=residual,
        relative_dual_residual=relative_residual,
        dual_sign_violation=sign_violation,
        reason=reason,
    )


def _failed(tolerance: float, reason: str) -> DualityCertificate:
    return DualityCertificate(applies=True, passed=False, tolerance=tolerance, reason=reason)
