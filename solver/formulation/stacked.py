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
    """The stacked LP, its blocks, and (after :meth:`solve`) the solution split per block."""

    blocks: tuple[Block, ...]
    c: FloatArray
    g: sp.csr_matrix
    h: FloatArray
    e_matrix: sp.csr_matrix
    e: FloatArray
    problem: cp.Problem
    z: cp.Variable
    record: SolveRecord | None = None
    slack: cp.Variable | None = None  # phase one only: the elastic rows' slacks
    slack_rows: np.ndarray | None = None  # the G rows each slack belongs to

    @property
    def size(self) -> int:
        return len(self.blocks)

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        self.record = solve_problem(self.problem, solver, **options)
        return self.record

    def primal(self) -> FloatArray | None:
        value = self.z.value
        return None if value is None else np.asarray(value, dtype=float)

    def duals(self) -> tuple[FloatArray, FloatArray] | None:
        """(lambda for G z <= h, nu for E z == e), in cvxpy's sign convention."""
        lam = self.problem.constraints[0].dual_value
        nu = self.problem.constraints[1].dual_value
        if lam is None or nu is None:
            return None
        return np.atleast_1d(np.asarray(lam, float)), np.atleast_1d(np.asarray(nu, float))


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
    z = cp.Variable(col, name="stacked")
    if elastic or penalty is not None:
        slack_rows = np.concatenate(elastic_rows)
        k = slack_rows.size
        s = cp.Variable(k, name="slack", nonneg=True)
        lift = sp.csr_matrix((-np.ones(k), (slack_rows, np.arange(k))), shape=(row, k))
        objective = cp.sum(s) if elastic else c @ z + float(penalty) * cp.sum(s)  # type: ignore[arg-type]
        problem = cp.Problem(cp.Minimize(objective), [g @ z + lift @ s <= h, e_matrix @ z == e])
        return StackedProgram(
            tuple(blocks), c, g, h, e_matrix, e, problem, z, slack=s, slack_rows=slack_rows
        )
    problem = cp.Problem(cp.Minimize(c @ z), [g @ z <= h, e_matrix @ z == e])
    return StackedProgram(tuple(blocks), c, g, h, e_matrix, e, problem, z)


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
    if program.slack is None or program.slack_rows is None or program.slack.value is None:
        return None
    slack = program.slack.value
    rows = program.slack_rows
    owner = np.searchsorted([b.g_rows.stop for b in program.blocks], rows, side="right")
    scale = np.maximum(1.0, np.abs(program.h[rows]))
    weights = np.maximum(np.asarray(slack, float), 0.0) / scale
    return np.asarray(np.bincount(owner, weights=weights, minlength=program.size), dtype=float)
