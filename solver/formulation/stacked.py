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

Assembly and compilation. A spec's block (its rows in its own numbering, as CSR arrays) is
made once while its arrays live, the blocks missing from a stack in one numpy pass, and a
stack is their concatenation with offsets: a stack with infeasible members is built three or
four times (plain, priced, its feasible members again, least costs), each time at the cost
of a few concatenations. cvxpy's compilation costs about 4-7 ms a call whatever the size
(``bench/README.md``, stackbuild), so a stack whose structure (sparsity patterns, blocks,
slacks) is met for the first time is compiled with its numbers as constants and forgotten
(every stack of a batch of unrelated specs); a structure met again (a sweep's stacks) is
compiled once with Parameters and re-solved. cvxpy hands the solver the same numbers either
way (tests/formulation/test_stacked_build.py).

Only specs whose program is exactly this (linear detection, fixed penalties, no ROC curves:
``stackable``) are stacked; the others are solved alone as before. Cone programs and MILPs
were measured not to gain from a stack (``bench/bench_cone_stack.py``, ``bench/README.md``):
Clarabel's time per spec does not fall in a stack, and a stacked gap or residual proves no
single member.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
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

    ``compiled``: the cvxpy program of a structure seen before (:class:`_Compiled`, cached
    and shared by every stack of that structure): :meth:`solve` loads this stack's numbers
    into its Parameters and keeps a copy of the solution, so a later stack of the same
    structure cannot change what this one read. None for a structure seen for the first time
    (every stack of a batch of unrelated specs): :meth:`solve` then compiles the stack's own
    numbers as constants, once, and keeps nothing (:func:`_compiled_for`)."""

    blocks: tuple[Block, ...]
    c: FloatArray
    g: sp.csr_matrix
    h: FloatArray
    e_matrix: sp.csr_matrix
    e: FloatArray
    compiled: _Compiled | None
    mode: Any = "plain"
    record: SolveRecord | None = None
    slack_rows: np.ndarray | None = None  # elastic and priced stacks: each slack's G row
    _primal: FloatArray | None = None
    _duals: tuple[FloatArray, FloatArray] | None = None
    _slack: FloatArray | None = None

    @property
    def size(self) -> int:
        return len(self.blocks)

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        if self.compiled is None:
            program = _Constant(self)
            self.record = solve_problem(program.problem, solver, **options)
            self._primal, self._duals, self._slack = program.solution()
            return self.record
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

    Each member's block is made once (:func:`_piece`, kept while its arrays live: a stack
    with infeasible members is built three or four times) in its own numbering; the stack
    is their concatenation, offset by numpy, no Python per entry or per row.
    """
    pieces = _pieces_of(members)
    count = len(pieces)
    g_height = np.fromiter((p.g_height for p in pieces), np.int64, count)
    width = np.fromiter((p.width for p in pieces), np.int64, count)
    g_nnz = np.fromiter((p.g_indices.size for p in pieces), np.int64, count)
    e_nnz = np.fromiter((p.e_indices.size for p in pieces), np.int64, count)
    row_at = np.concatenate([[0], np.cumsum(g_height)])
    col_at = np.concatenate([[0], np.cumsum(width)])
    row, col = int(row_at[-1]), int(col_at[-1])
    ends = np.concatenate([p.g_indptr[1:] for p in pieces]) if pieces else np.zeros(0, int)
    g = _block_diagonal(
        [p.g_indices for p in pieces],
        [p.g_data for p in pieces],
        ends + np.repeat(np.cumsum(g_nnz) - g_nnz, g_height),
        col_at,
        (row, col),
    )
    e_matrix = _block_diagonal(
        [p.e_indices for p in pieces], [p.e_data for p in pieces], np.cumsum(e_nnz), col_at,
        (count, col),
    )  # fmt: skip
    h = np.concatenate([p.h for p in pieces]) if pieces else np.zeros(0)
    c = np.concatenate([p.cost for p in pieces]) if pieces else np.zeros(0)
    e = np.zeros(count)
    blocks = tuple(
        Block(
            slice(int(col_at[k]), int(col_at[k + 1])),
            {name: slice(r0 + start, r0 + stop) for name, start, stop in p.families},
            slice(r0, int(row_at[k + 1])),
            slice(k, k + 1),
            p.m,
            p.n,
        )
        for k, (p, r0) in enumerate(zip(pieces, row_at[:-1].tolist(), strict=True))
    )
    slack_rows = None
    if elastic or penalty is not None:
        sizes = np.fromiter((p.slack_rows.size for p in pieces), np.int64, count)
        local = np.concatenate([p.slack_rows for p in pieces]) if pieces else np.zeros(0, int)
        slack_rows = local + np.repeat(row_at[:-1], sizes)
    mode = "elastic" if elastic else ("priced", float(penalty)) if penalty is not None else "plain"
    compiled = _compiled_for(mode, blocks, g, e_matrix, slack_rows)
    return StackedProgram(blocks, c, g, h, e_matrix, e, compiled, mode, slack_rows=slack_rows)


@dataclass(frozen=True)
class _Piece:
    """One member's block in its own numbering (rows and columns from 0): the rows of ``G``
    in CSR form (column-sorted, as scipy writes a matrix from coordinates), its one row of
    ``E``, the right-hand sides, the costs, each row family's local range and the rows
    that take a slack in an elastic or priced stack."""

    m: int
    n: int
    g_height: int
    width: int
    g_indptr: np.ndarray
    g_indices: np.ndarray
    g_data: FloatArray
    h: FloatArray
    e_indices: np.ndarray
    e_data: FloatArray
    cost: FloatArray
    families: tuple[tuple[str, int, int], ...]
    slack_rows: np.ndarray


#: Each live ``ProblemArrays``' block (immutable, compared by identity), read-only.
_pieces: weakref.WeakKeyDictionary[ProblemArrays, _Piece] = weakref.WeakKeyDictionary()


def _pieces_of(members: Sequence[ProblemArrays]) -> list[_Piece]:
    """Each member's block: from the cache, the missing ones made together
    (:func:`_made_pieces`)."""
    found = [_pieces.get(arrays) for arrays in members]
    missing = [k for k, piece in enumerate(found) if piece is None]
    if missing:
        fresh: dict[int, _Piece] = {}
        unique = list({id(members[k]): members[k] for k in missing}.values())
        for arrays, piece in zip(unique, _made_pieces(unique), strict=True):
            _pieces[arrays] = piece
            fresh[id(arrays)] = piece
        for k in missing:
            found[k] = fresh[id(members[k])]
    return found  # type: ignore[return-value]


def _made_pieces(members: Sequence[ProblemArrays]) -> list[_Piece]:
    """The blocks of ``members`` (layout in the module docstring), made in one pass: the
    members' numbers (the components' values, :func:`block_values`) are concatenated and
    every entry of every block is placed by numpy; each block is then a slice of the whole.
    The same numbers, in the same order, as ``scipy.sparse.csr_matrix`` writes each block
    from its coordinates (rows sorted, each row's columns sorted)."""
    values = [block_values(arrays) for arrays in members]
    count = len(members)
    m = np.fromiter((a.n_monitors for a in members), np.int64, count)
    n = np.fromiter((len(a.deviations) for a in members), np.int64, count)
    budget = np.fromiter((a.budget is not None for a in members), np.int64, count)
    height = 2 * m + 3 * n + budget
    width = m + n + 1
    row_at = np.cumsum(height) - height  # each block's first row in the pass
    col_at = np.cumsum(width) - width

    def per(name: str, sizes: np.ndarray) -> FloatArray:
        """A value of every member, one entry per row of its family (sizes), concatenated."""
        parts = [np.asarray(v[name], float) for v in values]
        parts = [
            part if part.shape == (size,) else np.broadcast_to(part, (size,))
            for part, size in zip(parts, sizes.tolist(), strict=True)
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    cost = per("scaled_cost", m)
    weight = per("detection_weight", n)
    flag = per("false_flag_weight", n)
    need = per("need", n)
    detections = [v["detection_matrix"] for v in values]
    q_count = np.fromiter((q.row.size for q in detections), np.int64, count)
    q_row = np.concatenate([q.row for q in detections]) if count else np.zeros(0, np.int64)
    q_col = np.concatenate([q.col for q in detections]) if count else np.zeros(0, np.int64)
    q_data = np.concatenate([np.asarray(q.data, float) for q in detections]) if count else cost

    # rows and columns of the pass, per family: x_j, P_i and P0 of each block
    j, i = _ranges(m), _ranges(n)
    x_row, x_col = np.repeat(row_at, m) + j, np.repeat(col_at, m) + j
    first = {
        "min_rate": row_at,
        "max_rate": row_at + m,
        "reach": row_at + 2 * m,
        "at_most_one": row_at + 2 * m + n,
        "incentive": row_at + 2 * m + 2 * n,
        "budget": row_at + 2 * m + 3 * n,
    }
    p_col = np.repeat(col_at + m, n) + i
    p0_col = col_at + m + n
    with_budget = np.repeat(budget.astype(bool), m)
    row = np.concatenate(
        [
            x_row,  # -x <= -min_rate
            np.repeat(first["max_rate"], m) + j,  # x <= max_rate
            np.repeat(first["reach"], n) + i,  # P - Q x <= 0: P's entries
            np.repeat(first["reach"], q_count) + q_row,  # and Q's
            np.repeat(first["at_most_one"], n) + i,  # P <= 1
            np.repeat(first["incentive"], n) + i,  # -(w o P) + fw P0 <= -need
            np.repeat(first["incentive"], n) + i,
            np.repeat(first["budget"], m)[with_budget],  # c~ . x <= B~
        ]
    )
    col = np.concatenate(
        [
            x_col,
            x_col,
            p_col,
            np.repeat(col_at, q_count) + q_col,
            p_col,
            p_col,
            np.repeat(p0_col, n),
            x_col[with_budget],
        ]
    )
    data = np.concatenate(
        [-np.ones(j.size), np.ones(j.size), np.ones(i.size), -q_data, np.ones(i.size), -weight,
         flag, cost[with_budget]]
    )  # fmt: skip
    indptr, indices, data = _csr_arrays(row, col, data, (int(height.sum()), int(width.sum())))
    rhs = np.zeros(int(height.sum()))
    rhs[x_row] = -per("min_rate", m)
    rhs[np.repeat(first["max_rate"], m) + j] = per("max_rate", m)
    rhs[np.repeat(first["at_most_one"], n) + i] = 1.0
    rhs[np.repeat(first["incentive"], n) + i] = -need
    has = budget.astype(bool)
    if has.any():
        budgets = [v["scaled_budget"] for v, b in zip(values, has, strict=True) if b]
        rhs[first["budget"][has]] = np.asarray(budgets, float).reshape(-1)
    # E's row of each block, P0 - f . x == 0, column-sorted: the rates' columns, then P0's
    e_count = m + 1
    e_at = np.cumsum(e_count) - e_count
    e_indices = _ranges(e_count)
    last = e_at + m  # P0's entry of each block
    e_indices[last] = m + n
    e_data = np.ones(int(e_count.sum()))
    e_data[np.delete(np.arange(e_data.size), last)] = -per("false_positive", m)
    local_cost = np.zeros(int(width.sum()))
    local_cost[x_col] = cost
    slack_count = n + budget
    slack_rows = _ranges(slack_count) + np.repeat(2 * m + 2 * n, slack_count)
    slack_at = np.cumsum(slack_count) - slack_count
    # read-only before the blocks' views are taken (a view keeps its flag)
    for item in (indptr, indices, data, rhs, e_indices, e_data, local_cost, slack_rows):
        item.flags.writeable = False
    pieces = []
    for mk, nk, bk, r0, h, c0, w, e0, s0 in (
        zip(
            m.tolist(), n.tolist(), budget.tolist(), row_at.tolist(), height.tolist(),
            col_at.tolist(), width.tolist(), e_at.tolist(), slack_at.tolist(), strict=True,
        )
    ):  # fmt: skip
        g0, g1 = int(indptr[r0]), int(indptr[r0 + h])
        block_indptr, block_indices = indptr[r0 : r0 + h + 1] - g0, indices[g0:g1] - c0
        block_indptr.flags.writeable = block_indices.flags.writeable = False
        reach = 2 * mk
        families = [
            ("min_rate", 0, mk),
            ("max_rate", mk, reach),
            ("reach", reach, reach + nk),
            ("at_most_one", reach + nk, reach + 2 * nk),
            ("incentive", reach + 2 * nk, reach + 3 * nk),
        ]
        if bk:
            families.append(("budget", reach + 3 * nk, reach + 3 * nk + 1))
        pieces.append(
            _Piece(
                m=mk,
                n=nk,
                g_height=h,
                width=w,
                g_indptr=block_indptr,
                g_indices=block_indices,
                g_data=data[g0:g1],
                h=rhs[r0 : r0 + h],
                e_indices=e_indices[e0 : e0 + mk + 1],
                e_data=e_data[e0 : e0 + mk + 1],
                cost=local_cost[c0 : c0 + w],
                families=tuple(families),
                slack_rows=slack_rows[s0 : s0 + nk + bk],
            )
        )
    return pieces


def _ranges(counts: np.ndarray) -> np.ndarray:
    """0 .. count - 1 for each count, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _csr_arrays(
    row: np.ndarray, col: np.ndarray, data: FloatArray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """(indptr, indices, data) of the matrix with these coordinates, exactly as
    ``scipy.sparse.csr_matrix((data, (row, col)))`` holds it: entries sorted by row, then
    column; explicit zeros kept; repeated coordinates summed (by scipy, when there are any)."""
    order = np.lexsort((col, row))
    row_sorted, col_sorted = row[order], col[order]
    if row.size > 1 and np.any((np.diff(row_sorted) == 0) & (np.diff(col_sorted) == 0)):
        # repeated coordinates: scipy's sums, in scipy's order of summation
        matrix = sp.csr_matrix((data, (row, col)), shape=shape)
        return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_sorted, minlength=shape[0]), out=indptr[1:])
    return indptr, col_sorted.astype(np.int64), np.asarray(data, float)[order]


def _block_diagonal(
    indices: Sequence[np.ndarray],
    data: Sequence[FloatArray],
    ends: np.ndarray,
    col_at: np.ndarray,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """The block-diagonal CSR matrix of the pieces' entries (``indices``, ``data``: each
    piece's, in its own columns): each piece's columns shifted by its first column
    (``col_at``); ``ends``: where each row's entries end in the whole. Index arrays in
    int32 when they fit, as scipy chooses them."""
    nnz = np.fromiter((part.size for part in indices), np.int64, len(indices))
    total = int(nnz.sum())
    index_type = np.int32 if max(total, *shape) <= np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(shape[0] + 1, dtype=index_type)
    indptr[1:] = ends
    column = np.concatenate(indices) if len(indices) else np.zeros(0, np.int64)
    column = (column + np.repeat(col_at[:-1], nnz)).astype(index_type)
    values = np.concatenate(data) if len(data) else np.zeros(0)
    return sp.csr_matrix((values, column, indptr), shape=shape)


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
    cvxpy keeps the reduction and only re-applies the Parameters).

    A stack whose structure is met for the first time is solved as :class:`_Constant`
    instead: the same model for the solver, without Parameters."""

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
        rows, cols = g.shape
        self.z = cp.Variable(cols, name="stacked")
        self.g_fixed = np.asarray(g.data[~g_varying], float).copy()
        self.e_fixed = np.asarray(e_matrix.data[~e_varying], float).copy()
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


class _Constant:
    """A stack's own numbers as one constant cvxpy program, solved once (a structure met for
    the first time: no Parameters, no structure analysis, no place in the cache).

    The model the solver gets is the parametric program's (:class:`_Compiled`), column for
    column and bit for bit (``tests/formulation/test_stacked_build.py``): with slacks, one
    variable holding the stack's columns and the slacks in the order cvxpy gives the
    parametric program's two variables (the slacks first in phase one, whose objective names
    only them), the slacks' lower bound 0 as a variable bound as cvxpy writes ``nonneg``,
    and the matrix ``[G, -L]``; cvxpy compiles that about 1 ms faster a priced stack."""

    def __init__(self, program: StackedProgram) -> None:
        g, e_matrix, slack_rows = program.g, program.e_matrix, program.slack_rows
        rows, cols = g.shape
        if slack_rows is None:
            self.variable = cp.Variable(cols, name="stacked")
            self.columns, self.slacks = slice(0, cols), None
            costs, lhs, equal = program.c, g, e_matrix
        else:
            k = slack_rows.size
            lift = sp.csr_matrix((-np.ones(k), (slack_rows, np.arange(k))), shape=(rows, k))
            no_slack = sp.csr_matrix((e_matrix.shape[0], k))
            if program.mode == "elastic":  # objective: the sum of the slacks alone
                self.slacks, self.columns = slice(0, k), slice(k, k + cols)
                costs = np.concatenate([np.ones(k), np.zeros(cols)])
                lhs = sp.hstack([lift, g], format="csr")
                equal = sp.hstack([no_slack, e_matrix], format="csr")
            else:
                self.columns, self.slacks = slice(0, cols), slice(cols, cols + k)
                costs = np.concatenate([program.c, np.full(k, float(program.mode[1]))])
                lhs = sp.hstack([g, lift], format="csr")
                equal = sp.hstack([e_matrix, no_slack], format="csr")
            low = np.full(cols + k, -np.inf)
            low[self.slacks] = 0.0
            self.variable = cp.Variable(cols + k, name="stacked", bounds=[low, np.inf])
        self.problem = cp.Problem(
            cp.Minimize(costs @ self.variable),
            [lhs @ self.variable <= program.h, equal @ self.variable == 0],
        )

    def solution(
        self,
    ) -> tuple[FloatArray | None, tuple[FloatArray, FloatArray] | None, FloatArray | None]:
        """Copies of the primal point, the duals and the slacks after a solve."""
        value = self.variable.value
        point = None if value is None else np.array(value, dtype=float)
        lam = self.problem.constraints[0].dual_value
        nu = self.problem.constraints[1].dual_value
        duals = None
        if lam is not None and nu is not None:
            duals = (np.array(np.atleast_1d(lam), float), np.array(np.atleast_1d(nu), float))
        if point is None:
            return None, duals, None
        slack = None if self.slacks is None else point[self.slacks].copy()
        return point[self.columns].copy(), duals, slack


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
#: Digests of the structures solved once (as constants), most recent last: a structure
#: met again is compiled with Parameters and cached (a sweep's stacks), one never met
#: again costs no Parameters (a batch's stacks of unrelated specs).
_seen: OrderedDict[bytes, None] = OrderedDict()
_SEEN_SIZE = 64
_cache_lock = threading.Lock()


def _compiled_for(
    mode: Any,
    blocks: tuple[Block, ...],
    g: sp.csr_matrix,
    e_matrix: sp.csr_matrix,
    slack_rows: np.ndarray | None,
) -> _Compiled | None:
    """The cached program of this structure (the matrices' sparsity patterns, the blocks,
    the slacks), compiled again when a constant entry changed; None for a structure met
    for the first time (its stack is solved as constants)."""
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
        else:
            digest = _digest(key)
            if digest not in _seen:
                _seen[digest] = None
                while len(_seen) > _SEEN_SIZE:
                    _seen.popitem(last=False)
                return None
            _seen.move_to_end(digest)
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


def clear_cache() -> None:
    """Forget every compiled and every seen structure (tests)."""
    with _cache_lock:
        _cache.clear()
        _seen.clear()


def _digest(key: tuple[Any, ...]) -> bytes:
    """A short digest of a structure key (a false match only costs a compile)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in key:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"|")
    return digest.digest()


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
