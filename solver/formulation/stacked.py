"""Many core programs as one block-diagonal cvxpy program (``deter batch``, sweeps, frontiers).

cvxpy's cost is per call (compiling a problem, applying Parameters, building the solver's
model), a few milliseconds, while the small linear programs of a batch take HiGHS a fraction
of that. Stacking amortises it: the programs of many specs become the blocks of one linear
program over one variable vector, written as two sparse constraint families
(``G z <= h`` and ``E z == e``) whose matrices are assembled directly from each spec's numbers
(one block of rows per spec, never one cvxpy expression per spec), solved once through
:func:`~deter.solver.formulation.program.solve_problem`, and split back per spec.

Each block holds exactly the rows of the core program as ``program.py`` compiles it, in the
same units (the components' own ``values``: costs divided by the largest cost, incentive
rows divided by d_i), so a block's primal and dual solution are those of the spec's own
program: the stacked objective is the sum of the blocks' objectives and no row couples two
blocks, so the KKT conditions of the stack are the blocks' KKT conditions side by side.

Block layout, for a spec with m monitors and n non-compliant actions (columns
``[x (m), P (n), P0 (1)]``)::

    G rows:  -x <= -min_rate (m)       x <= max_rate (m)
             P - Q x <= 0 (n)           P <= 1 (n)
             -(w o P) + fw P0 <= -need (n)            [incentive]
             c~ . x <= B~ (1, with a budget)
    E rows:  P0 - f . x == 0 (1)
    cost:    c~ . x                      (c~ = c / max c, B~ = B / max c)

Only specs whose program is exactly this (linear detection, fixed penalties, no ROC curves:
``stackable``) are stacked; the others are solved alone as before. Cone programs and MILPs
were measured not to gain from a stack (``bench/bench_cone_stack.py``, ``bench/README.md``):
Clarabel's time per spec does not fall in a stack, and a stacked gap or residual proves no
single member.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from .components import Budget, Deterrence, LinearDetection, MonitoringCost, components_for
from .program import SolveRecord, solve_problem

#: Specs with more detection entries than this are solved alone (a block that large gains
#: nothing from sharing a call).
STACK_ENTRY_LIMIT = 2_000
#: Row families of a block, in order (``Block.rows[name]`` is each one's slice of G).
FAMILIES = ("min_rate", "max_rate", "reach", "at_most_one", "incentive", "budget")


def stackable(arrays: ProblemArrays) -> bool:
    """True when ``arrays``' program is the plain core LP that :func:`build_stack` writes."""
    if len(arrays.deviations) * max(arrays.n_monitors, 1) > STACK_ENTRY_LIMIT:
        return False
    if len(arrays.deviations) == 0:
        return False
    kinds = [type(c) for c in components_for(arrays)]
    expected = [MonitoringCost, LinearDetection, Deterrence]
    return kinds == expected or kinds == [*expected, Budget]


@dataclass(frozen=True)
class Block:
    """Where one spec sits in the stack: its columns, G rows (per family) and E rows."""

    columns: slice
    rows: dict[str, slice]
    g_rows: slice
    e_rows: slice
    n_monitors: int
    n_deviations: int

    @property
    def rates(self) -> slice:
        return slice(self.columns.start, self.columns.start + self.n_monitors)

    @property
    def detection(self) -> slice:
        start = self.columns.start + self.n_monitors
        return slice(start, start + self.n_deviations)


@dataclass
class StackedProgram:
    """The stacked LP, its blocks, and (after :meth:`solve`) the solution split per block.

    ``problem`` is a compiled cvxpy program shared by every stack of the same structure
    (:class:`_Compiled`, cached): :meth:`solve` loads this stack's numbers into its
    Parameters and keeps a copy of the solution, so a later stack of the same structure
    cannot change what this one read."""

    blocks: tuple[Block, ...]
    c: FloatArray
    g: sp.csr_matrix
    h: FloatArray
    e_matrix: sp.csr_matrix
    e: FloatArray
    compiled: _Compiled
    record: SolveRecord | None = None
    slack_rows: np.ndarray | None = None  # elastic and priced stacks: each slack's G row
    _primal: FloatArray | None = None
    _duals: tuple[FloatArray, FloatArray] | None = None
    _slack: FloatArray | None = None

    @property
    def size(self) -> int:
        return len(self.blocks)

    @property
    def problem(self) -> cp.Problem:
        return self.compiled.problem

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        with self.compiled.lock:
            self.compiled.load(self)
            self.record = solve_problem(self.compiled.problem, solver, **options)
            self._primal, self._duals, self._slack = self.compiled.solution()
        return self.record

    def primal(self) -> FloatArray | None:
        return self._primal

    def duals(self) -> tuple[FloatArray, FloatArray] | None:
        """(lambda for G z <= h, nu for E z == e), in cvxpy's sign convention."""
        return self._duals

    def slack_values(self) -> FloatArray | None:
        """The slacks of an elastic or priced stack after a solve (None before, or without)."""
        return self._slack


def block_values(arrays: ProblemArrays) -> dict[str, Any]:
    """A spec's numbers for its block: the components' own values (the same rounding),
    but the detection entries of the non-compliant rows read straight from the CSR arrays
    (the same numbers as ``LinearDetection``'s row slice, without scipy's slicing cost)."""
    values: dict[str, Any] = {}
    for component in components_for(arrays):
        if isinstance(component, LinearDetection):
            values["false_positive"] = arrays.false_positive
            continue
        values.update(component.values(arrays))
    values["detection_matrix"] = _deviation_rows(arrays)
    return values


@dataclass(frozen=True)
class Entries:
    """The nonzero detection entries of the non-compliant rows: (row, column, value) arrays,
    without a scipy matrix around them (its constructor's checks cost more, per spec, than
    everything else in building its block)."""

    row: np.ndarray
    col: np.ndarray
    data: FloatArray


def _deviation_rows(arrays: ProblemArrays) -> Entries:
    """``arrays.detection[arrays.deviations]``'s entries, from the CSR arrays directly."""
    d = arrays.detection
    if not isinstance(d, sp.csr_matrix):
        q = sp.coo_matrix(d[arrays.deviations])
        return Entries(q.row, q.col, np.asarray(q.data, float))
    counts = np.diff(d.indptr)
    rows = np.repeat(np.arange(d.shape[0]), counts)
    position = np.full(d.shape[0], -1)
    position[arrays.deviations] = np.arange(len(arrays.deviations))
    keep = position[rows] >= 0
    return Entries(position[rows][keep], d.indices[keep], np.asarray(d.data, float)[keep])


def build_stack(
    members: Sequence[ProblemArrays], *, elastic: bool = False, penalty: float | None = None
) -> StackedProgram:
    """The block-diagonal program of ``members`` (each :func:`stackable`).

    ``elastic``: phase one of isolation. Every incentive and budget row gets a slack
    column s >= 0 (``row - s <= rhs``) and the objective is the sum of the slacks, so the
    program is always feasible and a block's least total slack is 0 exactly when the
    spec's own program is feasible.

    ``penalty`` (M): the same slacks, priced: the objective is the cost plus M times the
    slacks (an exact penalty: a block whose program is feasible and whose incentive and
    budget duals are below M takes no slack, and its point and duals are those of its own
    program; Bertsekas, *Nonlinear Programming*, 1999, section 5.4.5). One solve then
    answers the feasible blocks and gives the infeasible ones multipliers to check.
    """
    rows_i: list[np.ndarray] = []
    cols_i: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rhs: list[np.ndarray] = []
    e_rows: list[np.ndarray] = []
    e_cols: list[np.ndarray] = []
    e_vals: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    elastic_rows: list[np.ndarray] = []
    blocks: list[Block] = []
    col = row = erow = 0
    for arrays in members:
        v = block_values(arrays)
        m, n = arrays.n_monitors, len(arrays.deviations)
        x = col + np.arange(m)
        p = col + m + np.arange(n)
        p0 = col + m + n
        sc = np.asarray(v["scaled_cost"], float)
        q: Entries = v["detection_matrix"]
        rows = _Rows(row)
        family = rows.take
        rid = family("min_rate", m)
        rows_i.append(rid)
        cols_i.append(x)
        vals.append(-np.ones(m))
        rhs.append(-np.asarray(v["min_rate"], float))
        rid = family("max_rate", m)
        rows_i.append(rid)
        cols_i.append(x)
        vals.append(np.ones(m))
        rhs.append(np.asarray(v["max_rate"], float))
        rid = family("reach", n)
        rows_i += [rid, rid[q.row]]
        cols_i += [p, x[q.col]]
        vals += [np.ones(n), -np.asarray(q.data, float)]
        rhs.append(np.zeros(n))
        rid = family("at_most_one", n)
        rows_i.append(rid)
        cols_i.append(p)
        vals.append(np.ones(n))
        rhs.append(np.ones(n))
        rid = family("incentive", n)
        weight = np.broadcast_to(np.asarray(v["detection_weight"], float), (n,))
        flag = np.broadcast_to(np.asarray(v["false_flag_weight"], float), (n,))
        rows_i += [rid, rid]
        cols_i += [p, np.full(n, p0)]
        vals += [-weight, flag]
        rhs.append(-np.broadcast_to(np.asarray(v["need"], float), (n,)))
        elastic_rows.append(rid)
        if arrays.budget is not None:
            rid = family("budget", 1)
            rows_i.append(np.repeat(rid, m))
            cols_i.append(x)
            vals.append(sc)
            rhs.append(np.atleast_1d(np.asarray(v["scaled_budget"], float)))
            elastic_rows.append(rid)
        f = np.asarray(v["false_positive"], float)
        e_rows += [np.array([erow]), np.full(m, erow)]
        e_cols += [np.array([p0]), x]
        e_vals += [np.ones(1), -f]
        cost = np.zeros(m + n + 1)
        cost[:m] = sc
        costs.append(cost)
        r = rows.next
        blocks.append(
            Block(slice(col, p0 + 1), rows.families, slice(row, r), slice(erow, erow + 1), m, n)
        )
        col, row, erow = p0 + 1, r, erow + 1
    g = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(row, col)
    )
    h = np.concatenate(rhs)
    e_matrix = sp.csr_matrix(
        (np.concatenate(e_vals), (np.concatenate(e_rows), np.concatenate(e_cols))),
        shape=(erow, col),
    )
    e = np.zeros(erow)
    c = np.concatenate(costs)
    slack_rows = np.concatenate(elastic_rows) if elastic or penalty is not None else None
    mode = "elastic" if elastic else ("priced", float(penalty)) if penalty is not None else "plain"
    compiled = _compiled_for(mode, tuple(blocks), g, e_matrix, slack_rows)
    return StackedProgram(tuple(blocks), c, g, h, e_matrix, e, compiled, slack_rows=slack_rows)


#: Compiled stacks kept (by structure): a sweep re-solves a few, a batch's vary.
_CACHE_SIZE = 8
#: A stack whose blocks differ in more than this share of their matrix entries is compiled
#: with constant matrices (a batch of unrelated specs): Parameters for every entry would
#: cost cvxpy more to compile (about 3x) than re-solving saves.
VARYING_SHARE = 0.25


class _Compiled:
    """A compiled stack program: the right-hand side ``h`` and the costs ``c`` are cvxpy
    Parameters, and so are the matrix entries that differ between blocks (a sweep varies
    one number of a spec: a few entries); the others are constants of the structure.
    Stacks with the same structure and constants re-solve it with their own values (DPP:
    cvxpy keeps the reduction and only re-applies the Parameters)."""

    def __init__(
        self,
        mode: Any,
        g: sp.csr_matrix,
        e_matrix: sp.csr_matrix,
        slack_rows: np.ndarray | None,
        g_varying: np.ndarray,
        e_varying: np.ndarray,
    ) -> None:
        self.lock = threading.Lock()
        self.g_varying, self.e_varying = g_varying, e_varying
        self.g_fixed = np.asarray(g.data[~g_varying], float).copy()
        self.e_fixed = np.asarray(e_matrix.data[~e_varying], float).copy()
        rows, cols = g.shape
        self.z = cp.Variable(cols, name="stacked")
        self.h = cp.Parameter(rows, name="h")
        self.c = cp.Parameter(cols, name="c")
        self.g_values = _Term(g, g_varying)
        self.e_values = _Term(e_matrix, e_varying)
        lhs = self.g_values.expression(self.z)
        equal = self.e_values.expression(self.z)
        objective: cp.Expression = self.c @ self.z
        self.slack: cp.Variable | None = None
        if slack_rows is not None:
            k = slack_rows.size
            self.slack = cp.Variable(k, name="slack", nonneg=True)
            lift = sp.csr_matrix((-np.ones(k), (slack_rows, np.arange(k))), shape=(rows, k))
            lhs = lhs + lift @ self.slack
            penalty = mode[1] if isinstance(mode, tuple) else None
            objective = (
                cp.sum(self.slack) if penalty is None else objective + penalty * cp.sum(self.slack)
            )
        self.problem = cp.Problem(cp.Minimize(objective), [lhs <= self.h, equal == 0])

    def fits(self, g: sp.csr_matrix, e_matrix: sp.csr_matrix) -> bool:
        """True when ``g`` and ``e_matrix`` (of this structure) have this program's constants."""
        return np.array_equal(g.data[~self.g_varying], self.g_fixed) and np.array_equal(
            e_matrix.data[~self.e_varying], self.e_fixed
        )

    def load(self, program: StackedProgram) -> None:
        self.h.value = program.h
        self.c.value = program.c
        self.g_values.load(program.g)
        self.e_values.load(program.e_matrix)

    def solution(
        self,
    ) -> tuple[FloatArray | None, tuple[FloatArray, FloatArray] | None, FloatArray | None]:
        """Copies of the primal point, the duals and the slacks after a solve."""
        z = self.z.value
        primal = None if z is None else np.array(z, dtype=float)
        lam = self.problem.constraints[0].dual_value
        nu = self.problem.constraints[1].dual_value
        duals = None
        if lam is not None and nu is not None:
            duals = (np.array(np.atleast_1d(lam), float), np.array(np.atleast_1d(nu), float))
        slack = None if self.slack is None or self.slack.value is None else self.slack.value
        return primal, duals, None if slack is None else np.array(slack, dtype=float)


class _Term:
    """``A z`` for a sparse ``A`` whose entries at ``varying`` are a Parameter: the constant
    entries as a sparse constant, the others as ``S (a * z[cols])`` (DPP)."""

    def __init__(self, matrix: sp.csr_matrix, varying: np.ndarray) -> None:
        coo = matrix.tocoo()
        rows, cols = matrix.shape
        keep = ~varying
        self.constant = sp.csr_matrix(
            (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=(rows, cols)
        )
        self.varying = varying
        count = int(varying.sum())
        self.parameter = cp.Parameter(count) if count else None
        self.rows = coo.row[varying]
        self.cols = coo.col[varying]
        self.count = count

    def expression(self, z: cp.Variable) -> cp.Expression:
        out: cp.Expression = self.constant @ z
        if self.parameter is not None:
            spread = sp.csr_matrix(
                (np.ones(self.count), (self.rows, np.arange(self.count))),
                shape=(self.constant.shape[0], self.count),
            )
            out = out + spread @ cp.multiply(self.parameter, z[self.cols])
        return out

    def load(self, matrix: sp.csr_matrix) -> None:
        if self.parameter is not None:
            self.parameter.value = np.asarray(matrix.data[self.varying], float)


_cache: OrderedDict[tuple[Any, ...], _Compiled] = OrderedDict()
_cache_lock = threading.Lock()


def _compiled_for(
    mode: Any,
    blocks: tuple[Block, ...],
    g: sp.csr_matrix,
    e_matrix: sp.csr_matrix,
    slack_rows: np.ndarray | None,
) -> _Compiled:
    """The cached program of this structure (the matrices' sparsity patterns, the blocks,
    the slacks), compiled again when a constant entry changed."""
    key = (
        mode,
        g.shape,
        e_matrix.shape,
        g.indptr.tobytes(),
        g.indices.tobytes(),
        e_matrix.indptr.tobytes(),
        e_matrix.indices.tobytes(),
        None if slack_rows is None else slack_rows.tobytes(),
    )
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
    if compiled is not None and compiled.fits(g, e_matrix):
        return compiled
    if compiled is not None:  # a constant changed: it varies too from now on
        g_varying = compiled.g_varying | _changed(compiled.g_fixed, compiled.g_varying, g)
        e_varying = compiled.e_varying | _changed(compiled.e_fixed, compiled.e_varying, e_matrix)
    else:
        starts = [b.columns.start for b in blocks]
        g_varying = _varying(g, [b.g_rows for b in blocks], starts)
        e_varying = _varying(e_matrix, [b.e_rows for b in blocks], starts)
    if g_varying.sum() > VARYING_SHARE * g.nnz:
        g_varying = np.zeros(g.nnz, dtype=bool)
    if e_varying.sum() > VARYING_SHARE * e_matrix.nnz:
        e_varying = np.zeros(e_matrix.nnz, dtype=bool)
    compiled = _Compiled(mode, g, e_matrix, slack_rows, g_varying, e_varying)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _changed(fixed: FloatArray, varying: np.ndarray, matrix: sp.csr_matrix) -> np.ndarray:
    """The entries of ``matrix`` that differ from a compiled program's constants."""
    changed = np.zeros(matrix.nnz, dtype=bool)
    changed[~varying] = matrix.data[~varying] != fixed
    return changed


def _varying(matrix: sp.csr_matrix, rows: Sequence[slice], columns: Sequence[int]) -> np.ndarray:
    """The entries that differ between blocks when every block has the same pattern (the
    points of a sweep); else none (each block its own numbers: no Parameters). ``rows``:
    each block's rows of ``matrix``; ``columns``: each block's first column."""
    none = np.zeros(matrix.nnz, dtype=bool)
    count = len(rows)
    if count < 2 or matrix.nnz % count or matrix.shape[0] % count:
        return none
    height, width = matrix.shape[0] // count, matrix.nnz // count
    if any(r.start != k * height or r.stop != (k + 1) * height for k, r in enumerate(rows)):
        return none
    per_row = np.diff(matrix.indptr).reshape(count, height)
    if np.any(per_row != per_row[0]):
        return none
    local = matrix.indices.reshape(count, width) - np.asarray(columns)[:, None]
    if np.any(local != local[0]):
        return none
    data = np.asarray(matrix.data, float).reshape(count, width)
    return np.tile(np.any(data != data[0], axis=0), count)


class _Rows:
    """Hands out consecutive row numbers to a block's families, naming each one's slice."""

    def __init__(self, start: int) -> None:
        self.next = start
        self.families: dict[str, slice] = {}

    def take(self, name: str, count: int) -> np.ndarray:
        self.families[name] = slice(self.next, self.next + count)
        out = self.next + np.arange(count)
        self.next += count
        return out


def block_slack(program: StackedProgram) -> FloatArray | None:
    """Phase one's least total slack of each block (``build_stack(elastic=True)``), scaled
    by its rows' own right-hand sides; None when the solver returned no point."""
    slack = program.slack_values()
    if slack is None or program.slack_rows is None:
        return None
    rows = program.slack_rows
    owner = np.searchsorted([b.g_rows.stop for b in program.blocks], rows, side="right")
    scale = np.maximum(1.0, np.abs(program.h[rows]))
    weights = np.maximum(np.asarray(slack, float), 0.0) / scale
    return np.asarray(np.bincount(owner, weights=weights, minlength=program.size), dtype=float)
