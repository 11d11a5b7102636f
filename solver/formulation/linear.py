"""Small auxiliary linear programs given as arrays, built and solved through cvxpy.

The engine needs a few LPs that are not a spec's program: a Farkas system proving
infeasibility, a least-cost repair step, the rate LP of a penalty design at fixed penalties,
the best detection an action can face. They come as arrays (``minimise c'x`` subject to
``A_ub x <= b_ub``, ``A_eq x == b_eq`` and bounds), like ``scipy.optimize.linprog``'s
arguments; this module writes them as one cvxpy problem and solves it with
:func:`~deter.solver.formulation.program.solve_problem`, so every LP deter solves goes through
cvxpy (the design card) and stays quiet. ``marginals`` follow linprog's convention,
d(optimum) / d(right-hand side), so callers read sensitivities as they would there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.utility import FloatArray
from .program import solve_problem

Matrix: TypeAlias = Any  # a scipy sparse matrix or array, or a dense numpy array
Bounds: TypeAlias = Sequence[tuple[float | None, float | None]] | np.ndarray


@dataclass(frozen=True)
class LinearSolution:
    """What an auxiliary LP came to: ``status`` is cvxpy's (``optimal``, ``infeasible``, ...)
    or ``invalid input`` when a number is not finite; ``x`` and the rest only when optimal."""

    status: str
    x: FloatArray | None = None
    objective: float | None = None
    ineq_marginals: FloatArray = field(default_factory=lambda: np.zeros(0))
    eq_marginals: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def optimal(self) -> bool:
        return self.status == cp.OPTIMAL and self.x is not None


def solve_linear(
    c: FloatArray,
    a_ub: Matrix | None = None,
    b_ub: FloatArray | Sequence[float] | None = None,
    *,
    a_eq: Matrix | None = None,
    b_eq: FloatArray | Sequence[float] | None = None,
    bounds: Bounds | None = None,
    solver: str = "HIGHS",
    options: Mapping[str, Any] | None = None,
) -> LinearSolution:
    """Minimise c'x subject to the rows and bounds (each bound pair (low, high), None or
    an infinite value for none; default x >= 0 as in linprog). Never raises for a problem
    the solver cannot take: the status says so."""
    c = np.asarray(c, dtype=float).ravel()
    n = c.size
    low, high = _bounds(bounds, n)
    parts = [c, low[np.isfinite(low)], high[np.isfinite(high)]]
    rows: list[tuple[sp.csr_matrix, FloatArray]] = []
    for matrix, rhs in ((a_ub, b_ub), (a_eq, b_eq)):
        if matrix is None or rhs is None:
            rows.append((sp.csr_matrix((0, n)), np.zeros(0)))
            continue
        csr = sp.csr_matrix(matrix, dtype=float)
        vector = np.asarray(rhs, dtype=float).ravel()
        rows.append((csr, vector))
        parts += [csr.data, vector]
    if not all(np.all(np.isfinite(p)) for p in parts):
        return LinearSolution("invalid input")
    (g, h), (e, f) = rows
    if n == 0:  # no variables (a spec without monitors): the rows decide it alone
        if np.all(h >= 0) and np.all(f == 0):
            return LinearSolution(cp.OPTIMAL, np.zeros(0), 0.0, np.zeros(h.size), np.zeros(f.size))
        return LinearSolution(cp.INFEASIBLE)
    x = cp.Variable(n)
    constraints: list[cp.Constraint] = []
    inequality = equality = None
    if g.shape[0]:
        inequality = g @ x <= h
        constraints.append(inequality)
    if e.shape[0]:
        equality = e @ x == f
        constraints.append(equality)
    lower_rows, upper_rows = np.flatnonzero(np.isfinite(low)), np.flatnonzero(np.isfinite(high))
    if lower_rows.size:
        constraints.append(x[lower_rows] >= low[lower_rows])
    if upper_rows.size:
        constraints.append(x[upper_rows] <= high[upper_rows])
    problem = cp.Problem(cp.Minimize(c @ x), constraints)
    try:
        record = solve_problem(problem, solver, **dict(options or {}))
    except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
        return LinearSolution(f"failed ({exc})")
    if record.status != cp.OPTIMAL or x.value is None:
        return LinearSolution(record.status)
    return LinearSolution(
        status=record.status,
        x=np.asarray(x.value, dtype=float),
        objective=float(problem.value),
        # cvxpy's multiplier of A x <= b is d(optimum) / d(-b); linprog's marginal is d / d b.
        ineq_marginals=_marginals(inequality, g.shape[0]),
        eq_marginals=_marginals(equality, e.shape[0]),
    )


def _marginals(constraint: cp.Constraint | None, size: int) -> FloatArray:
    if constraint is None or constraint.dual_value is None:
        return np.zeros(size)
    return -np.atleast_1d(np.asarray(constraint.dual_value, dtype=float)).ravel()


def _bounds(bounds: Bounds | None, n: int) -> tuple[FloatArray, FloatArray]:
    if bounds is None:
        return np.zeros(n), np.full(n, np.inf)
    pairs = np.asarray(
        [
            (-np.inf if lo is None else lo, np.inf if hi is None else hi)
            for lo, hi in (bounds.tolist() if isinstance(bounds, np.ndarray) else bounds)
        ],
        dtype=float,
    ).reshape(n, 2)
    return pairs[:, 0], pairs[:, 1]
