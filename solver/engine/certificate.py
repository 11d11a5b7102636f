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
- the stationarity residual  max|s|  (dual infeasibility), judged by the cost it can hide:
  with every |z_j| <= B, the least cost is at least D - B sum_j |s_j|, so the relative
  residual is B sum_j |s_j| / |P| (a column of tiny numbers is no exemption), and
- the worst sign violation of the inequality multipliers,

each absolute and relative, and passes when all relative figures are within tolerance.
The gap is measured relative to max(|P|, |D|) with only a tiny absolute floor, so a cost of
1e-12 must be matched to the same relative accuracy as a cost of 1.

:func:`certify` gives every class of program the certificate it has: the duality
certificate above for linear programs; for a mixed-integer program, the same certificate of
the linear program obtained by fixing its integer variables at the returned values, whose
optimum must equal the one reported (the continuous part is then optimal for those
choices; the choices themselves rest on the solver's branch and bound at an exact gap); for
a cone program, Clarabel's own primal and dual residuals and the gap between its primal
and dual objectives.
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Inequality, NonNeg, NonPos

from ..formulation.program import is_linear_program, solve_problem
from ..results.result import DualityCertificate

#: Largest relative duality gap and stationarity residual accepted.
GAP_TOLERANCE = 1e-6
#: A few units of float64 round-off, relative to the terms a residual is summed from.
ROUND_OFF = 8 * float(np.finfo(float).eps)
#: Absolute floor under the relative gap: objectives are scaled to coefficients of order
#: one, so a gap below this is round-off in any spec.
GAP_FLOOR = 1e-13


def _flat(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel(order="F")


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
    variable_bound: float = 1.0,
) -> DualityCertificate:
    """Check the solved ``problem``'s duals against its primal point (see module docstring).

    ``objective_scale`` converts the program's objective back to the model's units (money)
    for the reported primal and dual objectives; the relative figures do not depend on it.
    ``variable_bound`` bounds |z_j| over the feasible set (rates, probabilities), which
    turns the stationarity residual into a bound on the cost it could hide.
    """
    if not is_linear_program(problem):
        return DualityCertificate(
            applies=False,
            passed=True,
            tolerance=tolerance,
            reason="not a linear program: feasibility check only",
            kind="none",
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
        terms = np.abs(c_dense)  # the size of what each column's stationarity sums
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
            terms += abs(a).T @ np.abs(multiplier)
            dual_objective += float(multiplier @ b)
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.save_value(value)
    return duality_verdict(
        primal=primal,
        dual=dual_objective,
        residual_sum=float(np.sum(np.abs(stationarity))),
        residual_max=float(np.max(np.abs(stationarity), initial=0.0)),
        terms_sum=float(np.sum(terms)),
        sign_violation=sign_violation,
        cost_norm=float(np.max(np.abs(c_dense), initial=0.0)),
        tolerance=tolerance,
        objective_scale=objective_scale,
        variable_bound=variable_bound,
    )


def duality_verdict(
    *,
    primal: float,
    dual: float,
    residual_sum: float,
    residual_max: float,
    terms_sum: float,
    sign_violation: float,
    cost_norm: float,
    tolerance: float = GAP_TOLERANCE,
    objective_scale: float = 1.0,
    variable_bound: float = 1.0,
) -> DualityCertificate:
    """The duality certificate from a solved LP's figures (program units): P and D, the
    stationarity residual's sum and largest entry, the sum of the terms it was summed from,
    the worst multiplier sign violation and the largest cost coefficient. One rule for every
    caller (a spec's own program, or one block of a stacked program)."""
    gap = primal - dual
    relative_gap = abs(gap) / max(abs(primal), abs(dual), GAP_FLOOR)
    # Weak duality with an inexact dual: for every feasible z, c'z >= D + s'z, so the least
    # cost is at least D - sum_j |s_j| B (every |z_j| <= B). The residual is judged by what
    # it can hide, sum_j |s_j| B, next to the cost itself: a column of tiny terms is checked
    # as strictly as a large one, and round-off in a column that cannot matter is not.
    hidden = residual_sum * variable_bound
    relative_residual = hidden / max(abs(primal), abs(dual), GAP_FLOOR)
    # What float64 itself leaves in those sums (a few ulps of their terms) proves nothing
    # either way: it is allowed on top of the tolerance, so an optimum of 0 can be certified.
    round_off = ROUND_OFF * terms_sum * variable_bound
    residual_ok = hidden <= tolerance * max(abs(primal), abs(dual)) + round_off
    relative_sign = sign_violation / max(cost_norm, 1.0)
    passed = bool(relative_gap <= tolerance and residual_ok and relative_sign <= tolerance)
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
        dual_objective=dual * objective_scale,
        gap=gap * objective_scale,
        relative_gap=relative_gap,
        dual_residual=residual_max,
        relative_dual_residual=relative_residual,
        dual_sign_violation=sign_violation,
        reason=reason,
    )


def _failed(tolerance: float, reason: str, kind: str = "lp_duality") -> DualityCertificate:
    return DualityCertificate(
        applies=True, passed=False, tolerance=tolerance, reason=reason, kind=kind
    )


def certify(
    problem: cp.Problem,
    raw: Any,
    tolerance: float = GAP_TOLERANCE,
    objective_scale: float = 1.0,
    variable_bound: float = 1.0,
) -> DualityCertificate:
    """The certificate of a solved ``problem`` for its class (module docstring).

    ``raw`` is the solver's own solution object (for Clarabel's residuals);
    ``objective_scale`` converts the program's objective to money for the reported figures.
    """
    if problem.is_mixed_integer():
        return fixed_integer_certificate(problem, tolerance, objective_scale, variable_bound)
    if is_linear_program(problem):
        return duality_certificate(problem, tolerance, objective_scale, variable_bound)
    return conic_certificate(problem, raw, tolerance, objective_scale)


def conic_certificate(
    problem: cp.Problem, raw: Any, tolerance: float = GAP_TOLERANCE, objective_scale: float = 1.0
) -> DualityCertificate:
    """Clarabel's primal and dual residuals and its primal-dual gap, as reported by it.

    These are measured in Clarabel's own (equilibrated) units, against the same kind of
    tolerance the solver stops on; deter's verification checks the answer in the model's.
    """
    needed = ("r_prim", "r_dual", "obj_val", "obj_val_dual")
    if raw is None or not all(hasattr(raw, name) for name in needed):
        return DualityCertificate(
            applies=False,
            passed=True,
            tolerance=tolerance,
            kind="none",
            reason="cone program solved by a solver that reports no residuals: "
            "feasibility check only",
        )
    primal, dual = float(raw.obj_val), float(raw.obj_val_dual)
    gap = primal - dual
    relative_gap = abs(gap) / max(abs(primal), abs(dual), 1.0)
    primal_residual, dual_residual = float(raw.r_prim), float(raw.r_dual)
    passed = bool(
        relative_gap <= tolerance and primal_residual <= tolerance and dual_residual <= tolerance
    )
    reason = (
        "Clarabel's residuals and gap within tolerance"
        if passed
        else f"Clarabel's relative gap {relative_gap:.3g}, primal residual "
        f"{primal_residual:.3g}, dual residual {dual_residual:.3g} (tolerance {tolerance:g})"
    )
    return DualityCertificate(
        applies=True,
        passed=passed,
        tolerance=tolerance,
        primal_objective=primal * objective_scale,
        dual_objective=dual * objective_scale,
        gap=gap * objective_scale,
        relative_gap=relative_gap,
        dual_residual=dual_residual,
        relative_dual_residual=dual_residual,
        primal_residual=primal_residual,
        reason=reason,
        kind="conic_residuals",
    )


def fixed_integer_certificate(
    problem: cp.Problem,
    tolerance: float = GAP_TOLERANCE,
    objective_scale: float = 1.0,
    variable_bound: float = 1.0,
) -> DualityCertificate:
    """Fix every integer variable at its (rounded) value, solve the linear program that is
    left with HiGHS, certify it by duality, and require its optimum to equal the reported
    one: then no other continuous part does better for the integer choices made."""
    integer = [
        v for v in problem.variables() if v.attributes.get("boolean") or v.attributes.get("integer")
    ]
    if any(v.value is None for v in integer):
        return _failed(tolerance, "the solver returned no integer choices", "fixed_integer_lp")
    fixed = {v.id: np.round(np.asarray(v.value, dtype=float)) for v in integer}
    reported = float(problem.objective.expr.value)
    linear = cp.Problem(
        cp.Minimize(_substitute(problem.objective.expr, fixed)),
        [_substitute(c, fixed) for c in problem.constraints],
    )
    saved = {v.id: v.value for v in problem.variables()}
    try:
        record = solve_problem(linear, "HIGHS")
        if record.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return _failed(
                tolerance,
                f"the LP with the integer choices fixed: {record.status}",
                "fixed_integer_lp",
            )
        certificate = duality_certificate(linear, tolerance, objective_scale, variable_bound)
        optimum = float(linear.value)
    finally:
        for v in problem.variables():  # the fixed LP shares the continuous variables
            v.save_value(saved[v.id])
    difference = abs(optimum - reported) / max(abs(optimum), abs(reported), GAP_FLOOR)
    passed = certificate.passed and difference <= tolerance
    reason = (
        "the LP with the integer choices fixed is certified and has the reported optimum"
        if passed
        else f"{certificate.reason}; LP optimum {optimum * objective_scale:.9g} vs reported "
        f"{reported * objective_scale:.9g} (relative difference {difference:.3g})"
    )
    return DualityCertificate(
        **{
            **certificate.__dict__,
            "passed": passed,
            "reason": reason,
            "kind": "fixed_integer_lp",
            "primal_objective": reported * objective_scale,
        }
    )


def _substitute(node: Any, fixed: dict[int, np.ndarray]) -> Any:
    """``node`` (an expression or constraint) with the variables in ``fixed`` as constants."""
    if isinstance(node, cp.Variable) and node.id in fixed:
        return cp.Constant(fixed[node.id].reshape(node.shape))
    if not node.args:
        return node
    return node.copy([_substitute(arg, fixed) for arg in node.args])
