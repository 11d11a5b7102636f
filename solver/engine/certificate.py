"""A duality certificate for a solved linear program, computed by deter from the duals.

Feasibility alone (``verify.py``) says the answer deters; it does not say the answer is the
*least-cost* one. For a linear program the dual values prove that: with every constraint
written as ``g_k(z) <= 0`` (inequalities, multiplier lambda_k >= 0) or ``g_k(z) = 0``
(equalities, multiplier nu_k free), cvxpy's sign convention gives the Lagrangian

    L(z, lambda) = c'z + sum_k lambda_k' g_k(z),    g_k(z) = A_k z + b_k,

deter computes A_k and b_k itself from each cvxpy constraint object (the gradient and the
value at z = 0 of its affine expression), so the certificate is generic over feature
components: a new feature's constraints are covered without code here. A program cached
by shape and re-solved with each spec's Parameters reads them instead from cvxpy's
coefficient tensor of its expressions, built once per program and checked against the
evaluation entry by entry on its first spec (:class:`AffineTensor`).

The bound is a *safe* one (Neumaier & Shcherbina 2004; docs/model.md): rows on a single
variable are its bounds l <= z <= u, and for any multipliers lambda >= 0 of the other rows,
the Lagrangian minimised over that box,

    D = c0 + sum_k lambda_k' b_k + sum_j min(s_j l_j, s_j u_j),   s = c + sum_k A_k' lambda_k,

is a lower bound on every feasible cost (weak duality, Boyd & Vandenberghe 2004, 5.2, with
the box as the domain). Inaccurate multipliers make D weaker, never invalid; a repair
shrinks those that turn s_j the wrong way (``lagrangian_bounds``). The answer is certified
when its cost P is within tolerance of D, relative to max(|P|, |D|) with only a tiny
absolute floor (a cost of 1e-12 is matched as strictly as a cost of 1), beyond the
round-off of the sums.

:func:`certify` gives every class of program the certificate it has: the duality
certificate above for linear programs; for a mixed-integer program, the same certificate of
the linear program obtained by fixing its integer variables at the returned values, whose
optimum must equal the one reported (the continuous part is then optimal for those
choices; the choices themselves rest on the solver's branch and bound at an exact gap); for
a cone program, Clarabel's own primal and dual residuals and the gap between its primal
and dual objectives.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Inequality, NonNeg, NonPos

from ..formulation.program import is_linear_program, solve_problem
from ..model.utility import FloatArray
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


def _sign(constraint: cp.Constraint) -> int:
    """How a constraint's rows enter ``G z <= h``: 1 for ``a z + b <= 0``, -1 for
    ``a z + b >= 0`` (i.e. ``-a z <= b``), 0 for an equality ``a z + b == 0``."""
    if isinstance(constraint, Inequality | NonPos):
        return 1
    return -1 if isinstance(constraint, NonNeg) else 0


def program_form(problem: cp.Problem, variables: list[cp.Variable], saved: list[Any]) -> LinearForm:
    """``problem`` as matrices (``variables``: its variables sorted by id, ``saved``: their
    values, restored on return), read generically off its expressions (:func:`affine_parts`).

    A parametric program (cached by shape and re-solved with each spec's numbers,
    ``program.py``) reads them from cvxpy's own coefficient tensor of its expressions,
    built once per compiled program (:class:`AffineTensor`, checked entry by entry against
    the evaluation on its first spec) and applied to the Parameters' current values: the
    coefficients cvxpy hands the solver, without evaluating every expression at every unit
    vector for every spec."""
    tensor = _tensors.get(problem)
    if tensor is not None:
        return tensor.form()
    try:
        parts = affine_parts(
            [problem.objective.expr, *(c.expr for c in problem.constraints)], variables
        )
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.save_value(value)
    if problem not in _tensors:  # the first spec of this compiled program
        parametric = bool(problem.parameters())
        _tensors[problem] = AffineTensor.checked(problem, variables, parts) if parametric else None
        checked = _tensors[problem]
        if checked is not None:
            # The tensor's sums round differently from the evaluation's in the last bits:
            # every spec, the first included, reads the tensor, so that a solve's figures do
            # not depend on whether the program was compiled for it (byte-identical JSON,
            # cold or warm; a dual residual of 2e-19 against 0 was the difference).
            return checked.form()
    (c, c0), rows = parts[0], parts[1:]
    signs = [_sign(constraint) for constraint in problem.constraints]
    n = sum(v.size for v in variables)
    g = [(sign * a, -sign * b) for sign, (a, b) in zip(signs, rows, strict=True) if sign]
    e = [(a, -b) for sign, (a, b) in zip(signs, rows, strict=True) if not sign]
    return LinearForm(
        c=c.toarray().ravel().astype(float),
        c0=float(np.sum(c0)),
        g=_stack([a for a, _ in g], n),
        h=_concat([h for _, h in g]),
        e_matrix=_stack([a for a, _ in e], n),
        e=_concat([h for _, h in e]),
    )


@dataclass(frozen=True)
class AffineTensor:
    """A parametric program's objective and constraint expressions as cvxpy's coefficient
    tensor: ``tensor @ [parameters, 1]``, reshaped (rows, variables + 1) in Fortran order,
    holds [A | b] of every expression, rows stacked in order (``CoeffExtractor.affine``,
    the map cvxpy's cone matrix stuffing applies to build the solver's data)."""

    tensor: sp.csr_matrix
    columns: int  # the stacked variables' length
    splits: tuple[int, ...]  # where each expression's rows start, and the total
    parameters: tuple[tuple[cp.Parameter, int], ...]  # each with its offset in the vector
    constant: int  # the vector's entry that holds 1
    g_rows: np.ndarray  # the rows of G z <= h, in constraint order ...
    g_signs: np.ndarray  # ... each one's sign (``_sign``)
    e_rows: np.ndarray  # the rows of E z == e

    @classmethod
    def of(cls, problem: cp.Problem, variables: list[cp.Variable]) -> AffineTensor:
        from cvxpy.lin_ops.lin_op import CONSTANT_ID
        from cvxpy.reductions.inverse_data import InverseData
        from cvxpy.utilities.coeff_extractor import CoeffExtractor

        expressions = [problem.objective.expr, *(c.expr for c in problem.constraints)]
        inverse = InverseData(problem)
        # the columns in the certificate's order: variables sorted by id, each flattened
        (inverse.id_map, inverse.var_offsets, inverse.x_length, inverse.var_shapes) = (
            InverseData.get_var_offsets(variables)
        )
        tensor = sp.csr_matrix(CoeffExtractor(inverse, "SCIPY").affine(expressions))
        by_id = {p.id: p for p in problem.parameters()}
        columns = inverse.param_id_map
        splits = np.cumsum([0, *(e.size for e in expressions)])
        signs = np.concatenate(
            [np.zeros(1), *(np.full(c.size, _sign(c)) for c in problem.constraints)]
        )
        return cls(
            tensor=tensor,
            columns=inverse.x_length,
            splits=tuple(int(k) for k in splits),
            parameters=tuple((by_id[i], col) for i, col in columns.items() if i != CONSTANT_ID),
            constant=columns[CONSTANT_ID],
            g_rows=np.flatnonzero(signs[1:]) + 1,
            g_signs=signs[1:][signs[1:] != 0],
            e_rows=np.flatnonzero(signs[1:] == 0) + 1,
        )

    @classmethod
    def checked(
        cls,
        problem: cp.Problem,
        variables: list[cp.Variable],
        parts: list[tuple[sp.csr_matrix, np.ndarray]],
    ) -> AffineTensor | None:
        """The program's tensor when it gives the coefficients that evaluating its
        expressions gave (``parts``, at the same Parameter values) to round-off, entry by
        entry; None (evaluate every time) when it does not or cannot be built (cvxpy
        refuses some shapes, a Parameter of size 0 say)."""
        if sum(v.size for v in variables) > EVALUATION_LIMIT:
            return None
        try:
            tensor = cls.of(problem, variables)
            ours = tensor.parts()
        except Exception:  # not a tensor cvxpy builds for this program: evaluate instead
            return None
        for (a, b), (a0, b0) in zip(ours, parts, strict=True):
            if a.shape != a0.shape or b.shape != b0.shape:
                return None
            # relative to each entry (a zero must be a zero): a coefficient of 1e-12 is
            # held as strictly as one of 1
            for ours_, theirs in ((a.toarray(), a0.toarray()), (b, b0)):
                if np.any(np.abs(ours_ - theirs) > 64 * ROUND_OFF * np.abs(theirs)):
                    return None
        return tensor

    def matrix(self) -> np.ndarray:
        """[A | b] of every expression's rows at the Parameters' current values."""
        vector = np.zeros(self.tensor.shape[1])
        vector[self.constant] = 1.0
        for parameter, col in self.parameters:
            value = np.asarray(parameter.value, dtype=float).ravel(order="F")
            vector[col : col + value.size] = value
        return (self.tensor @ vector).reshape((self.splits[-1], self.columns + 1), order="F")

    def parts(self) -> list[tuple[sp.csr_matrix, np.ndarray]]:
        """(A_k, b_k) of each expression, as :func:`affine_parts` gives them."""
        matrix = self.matrix()
        return [
            (sp.csr_matrix(matrix[a:b, :-1]), matrix[a:b, -1].copy())
            for a, b in zip(self.splits[:-1], self.splits[1:], strict=True)
        ]

    def form(self) -> LinearForm:
        """The program as matrices, as :func:`program_form` builds them from the parts."""
        matrix = self.matrix()
        g = matrix[self.g_rows] * self.g_signs[:, None]
        e = matrix[self.e_rows]
        return LinearForm(
            c=matrix[0, :-1].copy(),
            c0=float(matrix[0, -1]),
            g=sp.csr_matrix(g[:, :-1]),
            h=-g[:, -1],
            e_matrix=sp.csr_matrix(e[:, :-1]),
            e=-e[:, -1],
        )


#: Each compiled parametric program's tensor, dropped with the program.
_tensors: weakref.WeakKeyDictionary[cp.Problem, AffineTensor | None] = weakref.WeakKeyDictionary()


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
    reported: float | None = None,
    bounds: Mapping[int, FloatArray] | None = None,
) -> DualityCertificate:
    """Certify the solved ``problem`` by a safe Lagrangian bound (module docstring).

    ``objective_scale`` converts the program's objective back to the model's units (money)
    for the reported figures; the relative figures do not depend on it. ``variable_bound``
    bounds |z_j| for a variable that no row of the program bounds on the side needed;
    ``bounds`` (variable id -> bound per entry) overrides it for some variables.
    ``reported``: the cost of the answer actually reported (money), when it differs from
    the solver's point (rates rounded outward); the gap is measured from it.
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
    z = np.concatenate([_flat(value) for value in saved]) if variables else np.zeros(0)
    form = program_form(problem, variables, saved)
    lam_parts: list[np.ndarray] = []
    nu_parts: list[np.ndarray] = []
    for constraint, dual in zip(problem.constraints, duals, strict=True):
        (nu_parts if _sign(constraint) == 0 else lam_parts).append(_flat(dual))
    primal = None if reported is None else reported / objective_scale
    figures = lagrangian_bounds(
        form,
        z,
        _concat(lam_parts),
        _concat(nu_parts),
        _fallback(variables, variable_bound, bounds or {}),
        primal=None if primal is None else np.array([primal]),
    )
    return figures.verdict(0, tolerance, objective_scale)


def _fallback(
    variables: list[cp.Variable], bound: float, bounds: Mapping[int, FloatArray]
) -> FloatArray:
    parts = [_flat(bounds[v.id]) if v.id in bounds else np.full(v.size, bound) for v in variables]
    return np.concatenate(parts) if parts else np.zeros(0)


def _stack(blocks: list[sp.csr_matrix], columns: int) -> sp.csr_matrix:
    if not blocks:
        return sp.csr_matrix((0, columns))
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(float) if parts else np.zeros(0)


@dataclass(frozen=True)
class LinearForm:
    """A linear program as matrices: minimise c'z + c0 s.t. G z <= h, E z == e."""

    c: FloatArray
    c0: float
    g: sp.csr_matrix
    h: FloatArray
    e_matrix: sp.csr_matrix
    e: FloatArray


#: Rounds of the multiplier repair (``lagrangian_bounds``); each only shrinks multipliers.
REPAIR_ROUNDS = 4


@dataclass(frozen=True)
class BoundFigures:
    """Per block of a (possibly stacked) LP: the primal objective, the safe lower bound and
    the figures that judge it (program units)."""

    primal: FloatArray
    bound: FloatArray
    round_off: FloatArray
    residual_max: FloatArray  # largest |s_j| the variables' bounds do not absorb
    residual_cost: FloatArray  # what those residuals cost in the bound
    sign_violation: FloatArray  # the solver's most negative inequality multiplier

    def verdict(
        self,
        k: int,
        tolerance: float = GAP_TOLERANCE,
        objective_scale: float = 1.0,
        primal: float | None = None,
    ) -> DualityCertificate:
        """Block ``k``'s certificate: it passes when the answer costs at most ``tolerance``
        (relative) more than the proven lower bound, up to float64's round-off. ``primal``:
        the cost of the policy reported (program units), when not the solver's point."""
        primal = float(self.primal[k]) if primal is None else primal
        bound = float(self.bound[k])
        gap = primal - bound
        scale = max(abs(primal), abs(bound))
        relative_gap = max(gap, 0.0) / max(scale, GAP_FLOOR)
        # Round-off in the sums is allowed up to the tolerance once more, never beyond: a
        # bound whose float error is larger than that proves nothing.
        allowance = min(float(self.round_off[k]), tolerance * scale)
        passed = bool(np.isfinite(gap) and gap <= tolerance * scale + allowance)
        relative_residual = float(self.residual_cost[k]) / max(scale, GAP_FLOOR)
        reason = (
            "the answer is within tolerance of a proven lower bound"
            if passed
            else (
                f"relative duality gap {relative_gap:.3g}, dual residual "
                f"{relative_residual:.3g} (tolerance {tolerance:g})"
            )
        )
        return DualityCertificate(
            applies=True,
            passed=passed,
            tolerance=tolerance,
            primal_objective=primal * objective_scale,
            dual_objective=bound * objective_scale,
            gap=gap * objective_scale,
            relative_gap=relative_gap,
            dual_residual=float(self.residual_max[k]),
            relative_dual_residual=relative_residual,
            dual_sign_violation=float(self.sign_violation[k]),
            reason=reason,
        )


def lagrangian_bounds(
    form: LinearForm,
    z: FloatArray,
    lam: FloatArray,
    nu: FloatArray,
    fallback: FloatArray,
    *,
    column_starts: np.ndarray | None = None,
    g_starts: np.ndarray | None = None,
    e_starts: np.ndarray | None = None,
    primal: FloatArray | None = None,
) -> BoundFigures:
    """Safe lower bounds on the optimum of ``form`` from the solver's multipliers, per
    block (``*_starts``: where each block's columns and rows begin; one block by default).

    Rows with a single nonzero are bounds on their variable, l <= z <= u; the others keep
    the solver's multipliers (inequalities clipped at 0). For any such multipliers the
    Lagrangian minimised over the box is a lower bound on every feasible cost (Neumaier &
    Shcherbina 2004, docs/model.md):

        c0 - lam'h - nu'e + sum_j min(s_j l_j, s_j u_j),   s = c + G'lam + E'nu.

    The bound rows need no multipliers of their own, so a solver's inaccurate reduced costs
    cost nothing. A multiplier that is noise (a row whose unit is 1e-190 of the others)
    can still turn s_j the wrong way at a large bound; the repair shrinks the multipliers
    that do, a few rounds, and keeps each block's best bound: every round's bound is valid.
    A variable that no row bounds on the side needed is taken to lie within ``fallback``.
    """
    n = z.size
    single = column_starts is None
    column_starts = np.array([0]) if column_starts is None else column_starts
    g_starts = np.array([0]) if g_starts is None else g_starts
    e_starts = np.array([0]) if e_starts is None else e_starts
    lower, upper, g_general, e_general = _bound_rows(form, n)
    lo = np.where(np.isfinite(lower), lower, -fallback)
    hi = np.where(np.isfinite(upper), upper, fallback)
    reach = np.maximum(np.abs(lo), np.abs(hi))
    g = form.g[g_general]
    e_matrix = form.e_matrix[e_general]
    h, e = form.h[g_general], form.e[e_general]
    raw = lam[g_general]
    sign = np.where(raw < 0, -raw, 0.0)
    multipliers = np.maximum(raw, 0.0)
    nu_g = nu[e_general]
    blocks = len(column_starts)
    g_owner = _owner(np.flatnonzero(g_general), g_starts, blocks)
    e_owner = _owner(np.flatnonzero(e_general), e_starts, blocks)
    column_owner = _owner(np.arange(n), column_starts, blocks)
    fixed = form.c + e_matrix.T @ nu_g  # the parts of s the repair leaves alone
    fixed_terms = np.abs(form.c) + abs(e_matrix).T @ np.abs(nu_g)
    c0_terms = np.full(blocks, abs(form.c0)) if single else np.zeros(blocks)
    constant = (np.full(blocks, form.c0) if single else np.zeros(blocks)) - _sum(
        nu_g * e, e_owner, blocks
    )
    if primal is None:
        primal = _sum(form.c * z, column_owner, blocks) + (
            np.full(blocks, form.c0) if single else 0.0
        )
    primal_terms = _sum(np.abs(form.c * z), column_owner, blocks)
    # The bound with no multipliers at all, the objective's least value over the box: exact
    # (no sum cancels), and the proof when every rate sits at a floor of cost 0.
    best = (np.full(blocks, form.c0) if single else np.zeros(blocks)) + _sum(
        _box_minimum(form.c, lo, hi), column_owner, blocks
    )
    best_round_off = ROUND_OFF * (c0_terms + _sum(np.abs(form.c) * reach, column_owner, blocks))
    best_residual = _max(np.abs(form.c), column_owner, blocks)
    best_cost = np.zeros(blocks)
    coo = g.tocoo()
    for _ in range(REPAIR_ROUNDS):
        contribution = coo.data * multipliers[coo.row]
        positive = fixed + np.bincount(coo.col, weights=np.maximum(contribution, 0.0), minlength=n)
        negative = np.bincount(coo.col, weights=np.minimum(contribution, 0.0), minlength=n)
        s = positive + negative
        # (positive carries c and the equality terms; they may be negative too.)
        t = _box_minimum(s, lo, hi)
        with np.errstate(over="ignore", invalid="ignore"):
            terms = np.nan_to_num(
                (fixed_terms + np.bincount(coo.col, weights=np.abs(contribution), minlength=n))
                * reach,
                nan=0.0,
            )
        bound = constant - _sum(multipliers * h, g_owner, blocks) + _sum(t, column_owner, blocks)
        round_off = ROUND_OFF * (
            c0_terms
            + _sum(np.abs(multipliers * h), g_owner, blocks)
            + _sum(np.abs(nu_g * e), e_owner, blocks)
            + _sum(terms, column_owner, blocks)
            + primal_terms
        )
        harmful = t < 0
        better = bound > best
        best = np.where(better, bound, best)
        best_round_off = np.where(better, round_off, best_round_off)
        best_residual = np.where(
            better, _max(np.where(harmful, np.abs(s), 0.0), column_owner, blocks), best_residual
        )
        best_cost = np.where(
            better, _sum(np.where(harmful, -t, 0.0), column_owner, blocks), best_cost
        )
        if not np.any(harmful):
            break
        # Shrink the multipliers that turn s_j the wrong way at a harmful column, just
        # enough to bring s_j to 0 there; a row takes the smallest factor it is asked for.
        down = harmful & (s < 0)
        up = harmful & (s > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor_down = np.where(down, np.clip(positive / -negative, 0.0, 1.0), 1.0)
            factor_up = np.where(
                up, np.clip(-(s - positive + fixed) / (positive - fixed), 0.0, 1.0), 1.0
            )
        entry_factor = np.where(
            down[coo.col] & (contribution < 0),
            factor_down[coo.col],
            np.where(up[coo.col] & (contribution > 0), factor_up[coo.col], 1.0),
        )
        row_factor = np.ones(multipliers.size)
        np.minimum.at(row_factor, coo.row, np.nan_to_num(entry_factor, nan=0.0))
        multipliers = multipliers * row_factor
    return BoundFigures(
        primal=np.asarray(primal, dtype=float),
        bound=best,
        round_off=best_round_off,
        residual_max=best_residual,
        residual_cost=best_cost,
        sign_violation=_max(sign, g_owner, blocks),
    )


def _box_minimum(s: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """min(s_j l_j, s_j u_j): 0 where s_j is 0 (whatever the bound), -inf beyond float."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.minimum(s * lo, s * hi)
    return np.where(s == 0, 0.0, t)


def _bound_rows(form: LinearForm, n: int) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray]:
    """The variables' bounds read from single-entry rows, and masks of the other rows."""
    lower = np.full(n, -np.inf)
    upper = np.full(n, np.inf)
    g = sp.csr_matrix(form.g)
    g.eliminate_zeros()
    g_single = np.diff(g.indptr) == 1
    rows = np.flatnonzero(g_single)
    coefficient = g.data[g.indptr[rows]]
    column = g.indices[g.indptr[rows]]
    value = form.h[rows] / coefficient
    np.minimum.at(upper, column[coefficient > 0], value[coefficient > 0])
    np.maximum.at(lower, column[coefficient < 0], value[coefficient < 0])
    e = sp.csr_matrix(form.e_matrix)
    e.eliminate_zeros()
    e_single = np.diff(e.indptr) == 1
    rows = np.flatnonzero(e_single)
    value = form.e[rows] / e.data[e.indptr[rows]]
    column = e.indices[e.indptr[rows]]
    np.minimum.at(upper, column, value)
    np.maximum.at(lower, column, value)
    return lower, upper, ~g_single, ~e_single


def _owner(indices: np.ndarray, starts: np.ndarray, blocks: int) -> np.ndarray:
    """The block each index belongs to (``starts``: each block's first index)."""
    if blocks == 1:
        return np.zeros(indices.size, dtype=int)
    return np.searchsorted(starts, indices, side="right") - 1


def _sum(values: FloatArray, owner: np.ndarray, blocks: int) -> FloatArray:
    return np.asarray(np.bincount(owner, weights=values, minlength=blocks)[:blocks], dtype=float)


def _max(values: FloatArray, owner: np.ndarray, blocks: int) -> FloatArray:
    out = np.zeros(blocks)
    np.maximum.at(out, owner, values)
    return out


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
    reported: float | None = None,
    bounds: Mapping[int, FloatArray] | None = None,
) -> DualityCertificate:
    """The certificate of a solved ``problem`` for its class (module docstring).

    ``raw`` is the solver's own solution object (for Clarabel's residuals);
    ``objective_scale`` converts the program's objective to money for the reported figures;
    ``reported`` (money), for a linear program: the cost of the policy reported, when it is
    not the solver's point.
    """
    if problem.is_mixed_integer():
        return fixed_integer_certificate(
            problem, tolerance, objective_scale, variable_bound, reported=reported
        )
    if is_linear_program(problem):
        return duality_certificate(
            problem, tolerance, objective_scale, variable_bound, reported=reported, bounds=bounds
        )
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
    reported: float | None = None,
) -> DualityCertificate:
    """Fix every integer variable at its (rounded) value, solve the linear program that is
    left with HiGHS, certify it by duality, and require its optimum to equal the reported
    one: then no other continuous part does better for the integer choices made.

    ``reported`` (money): the cost of the policy reported when it is not the solver's point
    (a repaired policy); it is the one compared, so a repair that costs more than the
    optimum is refused rather than certified by the solver's cheaper point."""
    integer = [
        v for v in problem.variables() if v.attributes.get("boolean") or v.attributes.get("integer")
    ]
    if any(v.value is None for v in integer):
        return _failed(tolerance, "the solver returned no integer choices", "fixed_integer_lp")
    fixed = {v.id: np.round(np.asarray(v.value, dtype=float)) for v in integer}
    repaired = reported is not None
    reported = (
        float(problem.objective.expr.value) if reported is None else reported / objective_scale
    )
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
    # A repaired policy may cost less than the fixed LP's optimum (a deployment it does not
    # use switched off, still verified); never more.
    excess = reported - optimum if repaired else abs(optimum - reported)
    difference = excess / max(abs(optimum), abs(reported), GAP_FLOOR)
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
