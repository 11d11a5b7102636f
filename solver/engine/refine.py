"""Iterative refinement for a linear program (Gleixner, Steffy & Wolter 2016).

A solver meets each row only to its absolute tolerance (about 1e-7 to 1e-9 in its own
units). When the rows of one program live at very different scales (a deviation that needs
detection 1e-94 next to one that needs 1e-5, a false-flag weight of 1e-20 next to one of
1), no single choice of units makes every row of order one, and the rows at the small
scales are met "within tolerance" by a point that does not deter. Iterative refinement
fixes that without choosing units in advance:

1. solve the program as compiled (model units), point z*;
2. compute every row's residual r = h - G z* (and e - E z*) *exactly* (fractions; the
   rows are read generically as affine maps, ``certificate.affine_parts``), and the
   largest violation v that is not float64 round-off of the row's own terms;
3. solve the *correction* LP, the same program shifted to z* and magnified by Delta = 1/v,

       minimise c' d   subject to   G d <= Delta r,   E d = Delta r_E,

   a cvxpy problem like any other (its rows' right-hand sides are the residuals scaled
   up, rows met to round-off get 0, rows far from binding are capped: a trust region);
4. z* <- z* + d / Delta, and repeat until no row is violated beyond round-off.

Each round resolves the next seven or so orders of magnitude of the residual, so a need
of 1e-94 next to one of 1e-5 takes about a dozen rounds of a small LP. The last
correction LP is solved at the finest scale reached: its rows that bind are those of the
refined point at every scale, and its duals (divided back by the objective's scale) are
the program's multipliers, which ``certificate.py`` turns into a safe Lagrangian bound as
for any other answer. The refined point and duals are written into the program's own
variables and constraints, so the answer goes through the same judge (exact verification,
then the certificate) as every other attempt.

Gleixner, A. M., Steffy, D. E. and Wolter, K. (2016), "Iterative refinement for linear
programming", INFORMS Journal on Computing 28(3), 449-464.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import Inequality, NonNeg, NonPos

from ..formulation.program import SolveRecord, is_linear_program, solve_problem
from ..model.utility import FloatArray
from .certificate import affine_parts

#: Most correction LPs solved after the first solve.
ROUNDS = 32
#: A row's violation below this many ulps of its own terms is round-off (left to the
#: outward rounding of ``core.py``), not something a correction can remove.
ROUND_OFF = 64 * float(np.finfo(float).eps)
#: A row's scaled slack is capped here (a trust region): rows far from binding at the
#: current scale stay far, and no right-hand side reaches a solver's infinity (1e20).
LOOSE = 1e9
#: The largest primal scale factor: one over the smallest normal float64 (needs are floored
#: there, ``scaling.UNIT_FLOOR``).
MAGNIFY_CEILING = 1.0 / float(np.finfo(float).tiny)
#: The largest cost coefficient of a correction LP (a solver reads 1e20 as infinite). A
#: large reduced cost of a variable at its bound (or multiplier of a binding row) is capped
#: there: the correction's multipliers then stay dual feasible, and what the cap leaves of
#: the reduced cost is absorbed by that bound in the certificate's box.
COST_CEILING = 1e9
#: Once the point is feasible, refinement stops when the dual infeasibility no longer falls
#: below this fraction of the previous round's.
STALL = 0.5
#: Exact residuals (fractions) up to this many nonzeros; beyond, numpy's longdouble.
EXACT_LIMIT = 200_000


@dataclass(frozen=True)
class Rows:
    """One compiled constraint as rows ``a z <= b`` (``equal``: ``a z == b``), whose dual
    has cvxpy's sign for these rows; ``single``: the rows on one variable (its bounds)."""

    constraint: cp.Constraint
    a: sp.csr_matrix
    b: FloatArray
    equal: bool

    @property
    def single(self) -> np.ndarray:
        return np.asarray(np.diff(self.a.indptr) == 1) & (not self.equal)


def linear_rows(problem: cp.Problem) -> tuple[list[cp.Variable], FloatArray, list[Rows]]:
    """The program's variables (by id), objective gradient and rows as ``a z <= b``."""
    variables = sorted(problem.variables(), key=lambda v: v.id)
    point = {v.id: v.value for v in variables}  # affine_parts overwrites the values
    expressions = [problem.objective.expr, *(c.expr for c in problem.constraints)]
    try:
        (c, _), *rows = affine_parts(expressions, variables)
    finally:
        for v in variables:
            v.save_value(point[v.id])
    out = []
    for constraint, (a, b) in zip(problem.constraints, rows, strict=True):
        a = sp.csr_matrix(a)
        a.eliminate_zeros()
        if isinstance(constraint, Inequality | NonPos):  # a z + b <= 0
            out.append(Rows(constraint, a, -b, False))
        elif isinstance(constraint, NonNeg):  # a z + b >= 0
            out.append(Rows(constraint, sp.csr_matrix(-a), b, False))
        else:  # a z + b == 0
            out.append(Rows(constraint, a, -b, True))
    return variables, np.asarray(c.toarray()).ravel(), out


def residuals(a: sp.csr_matrix, b: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """b - a z, computed exactly (then rounded), and the size of its terms, per row."""
    a = sp.csr_matrix(a)
    terms = abs(a) @ np.abs(z) + np.abs(b)
    if a.nnz > EXACT_LIMIT:
        wide = b.astype(np.longdouble) - a.astype(np.longdouble) @ z.astype(np.longdouble)
        return np.asarray(wide, dtype=float), np.asarray(terms, dtype=float)
    exact_z = [Fraction(float(v)) for v in z]
    out = np.empty(a.shape[0])
    for r in range(a.shape[0]):
        total = Fraction(float(b[r]))
        for k in range(a.indptr[r], a.indptr[r + 1]):
            total -= Fraction(float(a.data[k])) * exact_z[a.indices[k]]
        out[r] = float(total)
    return out, np.asarray(terms, dtype=float)


@dataclass(frozen=True)
class Refinement:
    """What refinement came to: the solver's status (``optimal`` when the refined point
    and duals were written into the program) and the rounds taken."""

    status: str
    rounds: int
    violation: float  # largest violation left beyond round-off (0: none)

    @property
    def record(self) -> SolveRecord:
        """What the attempt loop reads: the status (no raw solver object: the duals and the
        point are in the problem)."""
        return SolveRecord(self.status)


def refine_solved(problem: cp.Problem, solver: str) -> Refinement:
    """Refine the solved ``problem``'s point and duals in place (module docstring)."""
    if not is_linear_program(problem):
        return Refinement("not a linear program", 0, np.inf)
    variables, c, rows = linear_rows(problem)
    if any(v.value is None for v in variables) or any(
        part.constraint.dual_value is None for part in rows
    ):
        return Refinement("no primal or dual point", 0, np.inf)
    z = np.concatenate([_flat(v.value) for v in variables]) if variables else np.zeros(0)
    scale = float(np.max(np.abs(c), initial=0.0)) or 1.0
    objective = c / scale
    # The solver's multipliers in units of the normalised objective.
    duals = [_flat(part.constraint.dual_value) / scale for part in rows]
    primal_scale = dual_scale = 1.0
    rounds, primal, dual, previous = 0, np.inf, np.inf, np.inf
    while rounds < ROUNDS:
        rounds += 1
        slack, primal = _primal_residuals(rows, z)
        reduced, dual = _dual_residuals(objective, rows, duals)
        if primal == 0:
            if dual == 0 or dual > STALL * previous:
                break  # converged, or the multipliers no longer improve: the judge decides
            previous = dual
        primal_scale = _magnified(primal, primal_scale)
        dual_scale = _magnified(dual, dual_scale)
        step = _correction(rows, slack, reduced, duals, primal_scale, dual_scale, solver)
        if step is None:
            break
        dz, corrections = step
        z = z + dz / primal_scale
        duals = [d + y / dual_scale for d, y in zip(duals, corrections, strict=True)]
    else:
        primal = _primal_residuals(rows, z)[1]
    if primal > 0:
        return Refinement("refinement did not converge", rounds, primal)
    offset = 0
    for variable in variables:
        variable.save_value(z[offset : offset + variable.size].reshape(variable.shape, order="F"))
        offset += variable.size
    for part, value in zip(rows, duals, strict=True):
        shape = part.constraint.shape
        value = scale * value
        part.constraint.save_dual_value(value.reshape(shape, order="F") if shape else value[0])
    return Refinement(cp.OPTIMAL, rounds, 0.0)


def _magnified(violation: float, previous: float) -> float:
    """The next scale factor: 1 / violation (the previous one when nothing is violated).

    Gleixner et al. bound its growth per round by a factor alpha; here the residuals are
    exact and the costs capped (COST_CEILING), and a bound only costs rounds: a need of
    1e-135 next to needs of 1e-5 took eight idle correction LPs at a growth of 1e16."""
    if violation <= 0 or not np.isfinite(violation):
        return previous
    return float(min(1.0 / violation, MAGNIFY_CEILING))


def _primal_residuals(rows: list[Rows], z: FloatArray) -> tuple[list[FloatArray], float]:
    """Each row's slack b - a z (exact, round-off of its terms set to 0), and the largest
    violation left."""
    out = []
    worst = 0.0
    for part in rows:
        r, terms = residuals(part.a, part.b, z)
        r = np.where(np.abs(r) <= ROUND_OFF * terms, 0.0, r)
        bad = np.abs(r) if part.equal else np.maximum(-r, 0.0)
        worst = max(worst, float(np.max(bad, initial=0.0)))
        out.append(r)
    return out, worst


def _dual_residuals(
    objective: FloatArray, rows: list[Rows], duals: list[FloatArray]
) -> tuple[FloatArray, float]:
    """The reduced costs c + A'y over the rows that are not bounds (exact), and the
    largest dual infeasibility: a negative multiplier of an inequality, or a reduced cost
    that no bound of its variable absorbs."""
    n = objective.size
    lower = np.zeros(n, dtype=bool)
    upper = np.zeros(n, dtype=bool)
    blocks, values = [], []
    worst = 0.0
    for part, y in zip(rows, duals, strict=True):
        single = part.single
        if np.any(single):
            bound = part.a[np.flatnonzero(single)].tocoo()
            upper[bound.col[bound.data > 0]] = True
            lower[bound.col[bound.data < 0]] = True
        general = np.flatnonzero(~single)
        if general.size:
            blocks.append(part.a[general])
            values.append(y[general])
            if not part.equal:
                worst = max(worst, float(np.max(np.maximum(-y[general], 0.0), initial=0.0)))
    if blocks:
        a = sp.csr_matrix(sp.vstack(blocks, format="csr"))
        reduced, terms = residuals(sp.csr_matrix(-a.T), objective, np.concatenate(values))
    else:
        reduced, terms = objective.copy(), np.abs(objective)
    reduced = np.where(np.abs(reduced) <= ROUND_OFF * terms, 0.0, reduced)
    unabsorbed = np.where(reduced > 0, ~lower, ~upper) & (reduced != 0)
    worst = max(worst, float(np.max(np.abs(reduced[unabsorbed]), initial=0.0)))
    return reduced, worst


def _correction(
    rows: list[Rows],
    slack: list[FloatArray],
    reduced: FloatArray,
    duals: list[FloatArray],
    primal_scale: float,
    dual_scale: float,
    solver: str,
) -> tuple[FloatArray, list[FloatArray]] | None:
    """One correction LP (module docstring), in Gleixner et al.'s form: the bounds of the
    variables stay bounds, every other row gets a slack variable whose cost is its
    multiplier, so that the LP's duals are corrections of the multipliers. Its step (in
    magnified units) and the multipliers' corrections (in magnified units), or None."""
    n = reduced.size
    d = cp.Variable(n)
    cost: Any = _capped(dual_scale * reduced) @ d
    constraints: list[
        tuple[Rows, np.ndarray, cp.Constraint | None, np.ndarray, cp.Constraint | None]
    ] = []
    every: list[cp.Constraint] = []
    for part, r, y in zip(rows, slack, duals, strict=True):
        with np.errstate(over="ignore", invalid="ignore"):
            rhs = np.clip(r * primal_scale, -np.inf, LOOSE)
        single = np.flatnonzero(part.single)
        general = np.flatnonzero(~part.single)
        bound_rows: cp.Constraint | None = None
        general_rows: cp.Constraint | None = None
        if single.size:
            bound_rows = part.a[single] @ d <= rhs[single]
            every.append(bound_rows)
        if general.size:
            a = part.a[general]
            if part.equal:
                general_rows = a @ d == rhs[general]
            else:
                s = cp.Variable(general.size)
                general_rows = a @ d + s == 0
                every.append(s >= -rhs[general])
                cost = cost + _capped(dual_scale * y[general]) @ s
            every.append(general_rows)
        constraints.append((part, single, bound_rows, general, general_rows))
    problem = cp.Problem(cp.Minimize(cost), every)
    try:
        record = solve_problem(problem, solver)
    except (cp.error.SolverError, ValueError, ArithmeticError):
        return None
    if record.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or d.value is None:
        return None
    corrections = []
    for (part, single, bound_rows, general, general_rows), old in zip(
        constraints, duals, strict=True
    ):
        y = np.zeros(part.a.shape[0])
        if bound_rows is not None:
            # A bound's multiplier is not a correction but the whole new reduced cost (the
            # objective's reduced costs leave the bounds out): the old value is replaced.
            y[single] = _flat(bound_rows.dual_value) - dual_scale * old[single]
        if general_rows is not None:
            y[general] = _flat(general_rows.dual_value)
        corrections.append(y)
    return np.asarray(d.value, dtype=float), corrections


def _capped(costs: FloatArray) -> FloatArray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.clip(np.nan_to_num(costs), -COST_CEILING, COST_CEILING)


def _flat(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel(order="F")
