"""Solving many specs as the blocks of one program: the engine step of batches and sweeps.

The specs whose program is the plain core LP (``formulation/stacked.py:stackable``) are
compiled into one block-diagonal cvxpy program and solved with one solver call; every block
is then judged on its own, exactly as ``core.py`` judges a spec solved alone: its rates
are read from its own columns, :func:`~deter.solver.engine.verify.verify_policy` checks the
model at them, and a duality certificate is computed for the block from its own slices of
the stacked matrices and duals (the duals of a block-diagonal LP restricted to a block are
that block's duals; see :func:`block_bounds`). A block that passes gets the result
``core.py`` builds (``optimal_result``), with the same attempt line.

Isolation. A spec that is not stackable, whose block fails verification or its
certificate, or that phase one finds infeasible, is handed back as ``None``: the caller
solves it alone through the ordinary path (``engine.solve``), which gives its retries,
its diagnosis and its status. When the stacked program is infeasible, phase one (the
elastic program of ``build_stack(elastic=True)``: a slack on every incentive and budget row,
least total slack) finds every infeasible block in one call; the others are stacked again.

What may differ from solving a spec alone: only the choice among equally cheap optima (a
degenerate LP with several optimal vertices), which can depend on the other blocks of its
stack; costs agree to round-off and every answer carries the same checks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import cvxpy as cp
import numpy as np

from ..formulation.components.base import Context
from ..formulation.components.deterrence import Deterrence, IncentiveHandles
from ..formulation.components.monitoring import cost_scale
from ..formulation.program import SOLVER_ORDER, CompiledProgram, variable_bound
from ..formulation.stacked import StackedProgram, block_slack, build_stack, stackable
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from ..results.result import DualityCertificate, Result
from ..spec.document import Spec
from ..spec.strategy import uses_strategy
from .attempts import CONIC_SOLVERS, Verdict
from .certificate import GAP_TOLERANCE, BoundFigures, LinearForm, lagrangian_bounds
from .core import Answer, accept_policy, optimal_result
from .readout import Clock
from .verify import TOLERANCE

#: Specs per stack in ``deter batch``: large enough to amortise cvxpy's per-call overhead
#: (a few ms), small enough that the workers share the load and a stack's result stays small.
STACK_SIZE = 64
#: A block whose phase-one slack (relative to its rows' right-hand sides) exceeds this is
#: solved alone (a feasible one sent alone costs time, never an answer).
SLACK_TOLERANCE = 1e-9
_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_LP_SOLVERS = ("HIGHS", *CONIC_SOLVERS)


@dataclass(frozen=True)
class StackStats:
    """What one call of :func:`solve_stacked` did (for benchmarks and tests)."""

    stacked: int = 0  # specs answered from a stack
    alone: int = 0  # specs handed back to be solved alone
    solves: int = 0  # stacked solver calls (phase one included)
    reasons: dict[str, int] = field(default_factory=dict)


def arrays_of(spec: Spec) -> ProblemArrays | None:
    """The spec's arrays when it can be stacked, else None."""
    if uses_strategy(spec):
        return None
    arrays = ProblemArrays.from_spec(spec)
    return arrays if stackable(arrays) else None


def solve_stacked(
    specs: Sequence[Spec],
    *,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
    arrays: Sequence[ProblemArrays | None] | None = None,
    stats: list[StackStats] | None = None,
) -> list[Result | None]:
    """Results of ``specs`` solved as one stacked program; None where a spec must be solved
    alone (module docstring). ``arrays``: each spec's arrays when already built (None for
    a spec that is not stackable)."""
    started = time.perf_counter()
    if arrays is None:
        arrays = [arrays_of(spec) for spec in specs]
    results: list[Result | None] = [None] * len(specs)
    reasons: dict[str, int] = {}
    solves = 0
    solver = solvers[0] if solvers else ""
    members = [k for k, a in enumerate(arrays) if a is not None]
    reasons["not stackable"] = len(specs) - len(members)
    if solver not in _LP_SOLVERS or len(members) < 1:
        _note(stats, results, solves, reasons)
        return results
    program = build_stack([arrays[k] for k in members])  # type: ignore[misc]
    status = _solve(program, solver)
    solves += 1
    if status not in _SOLVED:
        phase_one = build_stack([arrays[k] for k in members], elastic=True)  # type: ignore[misc]
        solves += 1
        slack = block_slack(phase_one) if _solve(phase_one, solver) in _SOLVED else None
        if slack is None:
            reasons["stack unsolved"] = len(members)
            _note(stats, results, solves, reasons)
            return results
        feasible = slack <= SLACK_TOLERANCE
        reasons["infeasible in phase one"] = int(np.sum(~feasible))
        members = [k for k, ok in zip(members, feasible, strict=True) if ok]
        if not members:
            _note(stats, results, solves, reasons)
            return results
        program = build_stack([arrays[k] for k in members])  # type: ignore[misc]
        solves += 1
        if _solve(program, solver) not in _SOLVED:
            reasons["stack unsolved"] = len(members)
            _note(stats, results, solves, reasons)
            return results
    solved_at = time.perf_counter()
    share = (solved_at - started) / max(len(specs), 1)
    member_arrays = [arrays[k] for k in members]
    bounds = block_bounds(program, member_arrays)  # type: ignore[arg-type]
    z = program.primal()
    duals = program.duals()
    for index, k in enumerate(members):
        arr = arrays[k]
        assert arr is not None and z is not None and duals is not None
        clock = Clock()
        verdict = _judge_block(arr, program, index, z, duals[0], bounds, tolerance)
        if verdict.answer is None:
            reasons["failed its checks"] = reasons.get("failed its checks", 0) + 1
            continue
        clock.add("build", 0.0)
        clock.add("solve", share)
        clock.started -= share
        line = f"{solver}: {program.record.status}, {verdict.proof}"  # type: ignore[union-attr]
        results[k] = optimal_result(specs[k], arr, verdict.answer, solver, (line,), clock)
    _note(stats, results, solves, reasons)
    return results


def _note(
    stats: list[StackStats] | None,
    results: Sequence[Result | None],
    solves: int,
    reasons: dict[str, int],
) -> None:
    if stats is not None:
        stacked = sum(r is not None for r in results)
        kept = {k: v for k, v in reasons.items() if v}
        stats.append(StackStats(stacked, len(results) - stacked, solves, kept))


def _solve(program: StackedProgram, solver: str) -> str:
    try:
        return program.solve(solver).status
    except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
        return f"failed ({exc})"


def _judge_block(
    arrays: ProblemArrays,
    program: StackedProgram,
    index: int,
    z: FloatArray,
    lam: FloatArray,
    bounds: BoundFigures | str,
    tolerance: float,
) -> Verdict[Answer]:
    """``core.accept_policy`` (the step ``judge_core`` takes for a spec solved alone) for
    one block: its rates, its incentive duals, and its own certificate from the stack's
    bounds, at the cost of the policy reported."""
    if isinstance(bounds, str):
        return Verdict.reject(bounds)
    block = program.blocks[index]
    view = _BlockProgram.of(lam[block.rows["incentive"]])
    solved = np.clip(z[block.rates], arrays.min_rate, arrays.max_rate)
    scale = cost_scale(arrays)

    def certificate_of(reported: float) -> DualityCertificate:
        return bounds.verdict(index, GAP_TOLERANCE, scale, primal=reported / scale)

    return accept_policy(arrays, view, solved, tolerance, certificate_of)


def block_bounds(program: StackedProgram, members: Sequence[ProblemArrays]) -> BoundFigures | str:
    """Every block's safe lower bound, from its own slices (numpy, vectorised), or why
    there is none.

    The same rule as ``certificate.duality_certificate`` of the spec's own program
    (``certificate.lagrangian_bounds``), with the rows ``G z <= h`` and ``E z == e`` of the
    stack and each block's columns and rows summed on their own.
    """
    z = program.primal()
    duals = program.duals()
    if z is None or duals is None:
        return "the solver returned no primal point or no dual values"
    lam, nu = duals
    fallback = np.concatenate(
        [
            np.full(b.columns.stop - b.columns.start, variable_bound(arrays))
            for b, arrays in zip(program.blocks, members, strict=True)
        ]
    )
    return lagrangian_bounds(
        LinearForm(program.c, 0.0, program.g, program.h, program.e_matrix, program.e),
        z,
        lam,
        nu,
        fallback,
        column_starts=np.array([b.columns.start for b in program.blocks]),
        g_starts=np.array([b.g_rows.start for b in program.blocks]),
        e_starts=np.array([b.e_rows.start for b in program.blocks]),
    )


@cache
def _shell() -> tuple[Context, cp.Problem, IncentiveHandles]:
    """A placeholder context and problem for block views (built once per process)."""
    marker = cp.Variable(1, name="stacked_block")
    ctx = Context(0, 0, False, marker, marker, marker)
    incentive = marker >= 0
    return ctx, cp.Problem(cp.Minimize(0), [incentive]), IncentiveHandles(incentive)


@dataclass
class _BlockProgram(CompiledProgram):
    """One block of a solved stack, seen as the spec's own program by the result builder:
    its parts are the ``Deterrence`` component (which owns the shadow prices) and its
    incentive dual is the block's."""

    incentive_dual: FloatArray | None = None

    @classmethod
    def of(cls, incentive_dual: FloatArray) -> _BlockProgram:
        ctx, problem, handles = _shell()
        return cls(((Deterrence(), handles),), ctx, problem, ("stacked",), incentive_dual)

    def dual_of(self, constraint: cp.Constraint) -> FloatArray | None:
        if constraint is self.parts[0][1].incentive:  # type: ignore[attr-defined]
            return self.incentive_dual
        return None
