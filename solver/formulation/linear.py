"""Small auxiliary linear programs given as arrays, built and solved through cvxpy.

The engine needs a few LPs that are not a spec's program: a Farkas system proving
infeasibility, a least-cost repair step, the rate LP of a penalty design at fixed penalties,
the best detection an action can face. They come as arrays (``minimise c'x`` subject to
``A_ub x <= b_ub``, ``A_eq x == b_eq`` and bounds), like ``scipy.optimize.linprog``'s
arguments; this module writes them as one cvxpy problem and solves it with
:func:`~deter.solver.formulation.program.solve_problem`, so every LP deter solves goes through
cvxpy (the design card) and stays quiet. ``marginals`` follow linprog's convention,
d(optimum) / d(right-hand side), so callers read sensitivities as they would there.

Small LPs (at most ``PARAMETRIC_ENTRIES`` matrix entries) are compiled once per shape (the
numbers of variables and rows and which bounds are finite) and solved again through cvxpy
Parameters (DPP): a batch solves hundreds of repair steps and certificates of a few shapes,
and cvxpy's compilation of a fresh problem costs about three times its re-solve. Every small
LP goes through its shape's parametric program, whether or not it was compiled before, so an
answer never depends on which LPs a process solved earlier (the same numbers reach the
solver either way). The cache is per thread (Dask runs tasks in threads) and bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
    lower_rows, upper_rows = np.flatnonzero(np.isfinite(low)), np.flatnonzero(np.isfinite(high))
    if (g.shape[0] + e.shape[0]) * n <= PARAMETRIC_ENTRIES:
        compiled = _parametric(n, g.shape[0], e.shape[0], lower_rows, upper_rows)
        compiled.load(c, g, h, e, f, low[lower_rows], high[upper_rows])
        problem, x = compiled.problem, compiled.x
        inequality, equality = compiled.inequality, compiled.equality
    else:
        x = cp.Variable(n)
        constraints: list[cp.Constraint] = []
        inequality = equality = None
        if g.shape[0]:
            inequality = g @ x <= h
            constraints.append(inequality)
        if e.shape[0]:
            equality = e @ x == f
            constraints.append(equality)
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


#: LPs with at most this many matrix entries (rows x variables) use a parametric program
#: per shape (module docstring); larger ones are compiled as they come (a dense Parameter
#: of their matrix would cost more than it saves).
PARAMETRIC_ENTRIES = 4096
#: Parametric programs kept per thread (least recently used dropped first).
CACHE_SIZE = 64
_cache = threading.local()


@dataclass
class _Parametric:
    """One shape's LP, minimise c'x subject to A_ub x <= b_ub, A_eq x == b_eq and the finite
    bounds, with every number a Parameter."""

    problem: cp.Problem
    x: cp.Variable
    parameters: tuple[cp.Parameter | None, ...]  # c, A_ub, b_ub, A_eq, b_eq, low, high
    inequality: cp.Constraint | None
    equality: cp.Constraint | None

    def load(self, *values: Matrix) -> None:
        for parameter, value in zip(self.parameters, values, strict=True):
            if parameter is not None:
                dense = value.toarray() if sp.issparse(value) else value
                parameter.value = np.asarray(dense, dtype=float).reshape(parameter.shape)


def _parametric(
    n: int, n_ub: int, n_eq: int, lower_rows: np.ndarray, upper_rows: np.ndarray
) -> _Parametric:
    """The parametric program of a shape (built on first use, kept per thread)."""
    key = (n, n_ub, n_eq, lower_rows.tobytes(), upper_rows.tobytes())
    programs: OrderedDict[tuple[object, ...], _Parametric] | None = getattr(
        _cache, "programs", None
    )
    if programs is None:
        programs = _cache.programs = OrderedDict()
    found = programs.get(key)
    if found is not None:
        programs.move_to_end(key)
        return found
    x = cp.Variable(n)
    c = cp.Parameter(n)

    def parameter(*shape: int) -> cp.Parameter | None:
        return cp.Parameter(shape) if all(shape) else None

    a_ub, b_ub = parameter(n_ub, n), parameter(n_ub)
    a_eq, b_eq = parameter(n_eq, n), parameter(n_eq)
    low, high = parameter(lower_rows.size), parameter(upper_rows.size)
    constraints: list[cp.Constraint] = []
    inequality = equality = None
    if a_ub is not None and b_ub is not None:
        inequality = a_ub @ x <= b_ub
        constraints.append(inequality)
    if a_eq is not None and b_eq is not None:
        equality = a_eq @ x == b_eq
        constraints.append(equality)
    if low is not None:
        constraints.append(x[lower_rows] >= low)
    if high is not None:
        constraints.append(x[upper_rows] <= high)
    problem = cp.Problem(cp.Minimize(c @ x), constraints)
    found = _Parametric(problem, x, (c, a_ub, b_ub, a_eq, b_eq, low, high), inequality, equality)
    programs[key] = found
    if len(programs) > CACHE_SIZE:
        programs.popitem(last=False)
    return found


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
