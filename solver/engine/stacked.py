"""Solving many specs as the blocks of one program: the engine step of batches and sweeps.

The specs whose program is the plain core LP (``formulation/stacked.py:stackable``) are
compiled into one block-diagonal cvxpy program and solved with one solver call; every block
is then judged on its own, exactly as ``core.py`` judges a spec solved alone: its rates
are read from its own columns, :func:`~deter.solver.engine.verify.verify_policy` checks the
model at them, and a duality certificate is computed for the block from its own slices of
the stacked matrices and duals (the duals of a block-diagonal LP restricted to a block are
that block's duals; see :func:`block_bounds`). A block that passes gets the result
``core.py`` builds (``optimal_result``), with the same attempt line.

Infeasible members. When the stacked program is infeasible, phase one (the elastic program
of ``build_stack(elastic=True)``: a slack on every incentive and budget row, least total
slack) finds every infeasible block in one call, and its duals restricted to such a block
are the block's Farkas multipliers: they are checked in exact arithmetic by
``infeasibility.check`` on the spec's own system (:func:`block_certificate`), as a spec
solved alone is proven, and the result is the one ``core.infeasible_result`` builds (its
diagnosis; with a budget, the least cost without it from one more stacked solve). The
feasible members are stacked again.

Isolation. A spec that is not stackable, whose block fails verification or its
certificate, or whose certificate of infeasibility does not hold, is handed back as
``None``: the caller solves it alone through the ordinary path (``engine.solve``), which
gives its retries, its diagnosis and its status.

What may differ from solving a spec alone: only the choice among equally cheap optima (a
degenerate LP with several optimal vertices), which can depend on the other blocks of its
stack; costs agree to round-off and every answer carries the same checks. An infeasible
member's attempt line names phase one, and where the least cost without its budget has no
verified answer, the lower bound its diagnosis quotes is its own certificate's (from other
multipliers than alone).
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
from ..formulation.stacked import Block, StackedProgram, block_slack, build_stack, stackable
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from ..results.result import DualityCertificate, Result
from ..spec.document import Spec
from ..spec.strategy import uses_strategy
from .attempts import CONIC_SOLVERS, Verdict
from .certificate import GAP_TOLERANCE, BoundFigures, LinearForm, lagrangian_bounds
from .core import (
    Answer,
    accept_policy,
    infeasible_result,
    least_cost_without_budget,
    optimal_result,
)
from .diagnose import without_budget
from .infeasibility import Certificate, build_system, check
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
    arrays = ProblemArrays.for_design(spec)
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
        infeasible = [
            (i, k) for i, (k, ok) in enumerate(zip(members, feasible, strict=True)) if not ok
        ]
        solves += _answer_infeasible(specs, arrays, phase_one, infeasible, solver, results)
        left = sum(results[k] is None for _, k in infeasible)
        reasons["infeasible in phase one, not certified from the stack"] = left
        reasons["infeasible, certified from the stack"] = len(infeasible) - left
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


def _answer_infeasible(
    specs: Sequence[Spec],
    arrays: Sequence[ProblemArrays | None],
    phase_one: StackedProgram,
    infeasible: Sequence[tuple[int, int]],
    solver: str,
    results: list[Result | None],
) -> int:
    """Answer the members phase one found infeasible from its own solve: each block's
    duals are its Farkas multipliers (below), checked exactly by ``infeasibility.check``
    as a spec solved alone is; with a budget, the least costs without it come from one
    more stacked solve. A member whose certificate does not hold stays None (solved
    alone). Returns the number of solver calls made."""
    started = time.perf_counter()
    duals = phase_one.duals()
    if duals is None or not infeasible:
        return 0
    lam = duals[0]
    proofs = {k: block_certificate(arrays[k], phase_one.blocks[i], lam) for i, k in infeasible}  # type: ignore[arg-type]
    budgeted = [
        k for k, proof in proofs.items() if proof is not None and proof.least_cost_bound is not None
    ]
    calls: list[int] = []
    lifted = _least_costs([arrays[k] for k in budgeted], solver, calls)  # type: ignore[misc]
    costs = {budgeted[i]: cost for i, cost in lifted.items()}
    share = (time.perf_counter() - started) / len(infeasible)
    status = phase_one.record.status if phase_one.record is not None else ""
    line = f"{solver}: phase one of a stack, {status}: infeasible, proven by its block's duals"
    for _, k in infeasible:
        arr = arrays[k]
        assert arr is not None
        clock = Clock()
        clock.add("build", 0.0)
        clock.add("solve", share)
        clock.started -= share

        def least_cost_of(a: ProblemArrays, k: int = k) -> float | None:
            return costs[k] if k in costs else least_cost_without_budget(a)

        results[k] = infeasible_result(
            specs[k],
            arr,
            proofs[k],
            solver,
            clock,
            attempts=(line,),
            least_cost_of=least_cost_of,
        )
    return sum(calls)


def block_certificate(arrays: ProblemArrays, block: Block, lam: FloatArray) -> Certificate | None:
    """A block's certificate of infeasibility from the phase-one duals ``lam`` (its
    elastic rows' multipliers), checked exactly, or None.

    Phase one minimises the slacks of a block-diagonal program; its dual restricted to a
    block whose least slack is positive is a Farkas certificate of the block's own rows
    (the dual objective of the block is its slack, and its multipliers cancel every column
    of the block). In the rates alone, as ``infeasibility.build_system`` writes the rows,
    the multipliers are: for an action's row Q_i x - w_i f x >= n_i, that of its reach row
    P_i <= Q_i x (the detection P_i is eliminated through it); for its row
    -w_i f x >= n_i - 1, that of P_i <= 1; for a row without detection weight, the
    incentive row's; for the budget, the budget row's in money (the program's costs are
    divided by ``cost_scale``). The rate bounds are the box the check maximises over.
    Mapped wrongly, a multiplier only makes the exact check fail: never a false proof.
    """
    system = build_system(arrays)
    if not system.labels:
        return None
    weight = np.broadcast_to(
        np.asarray(Deterrence().values(arrays)["detection_weight"], float),
        arrays.deviations.shape,
    )
    position = {arrays.action_names[int(i)]: k for k, i in enumerate(arrays.deviations)}
    reach, capped = lam[block.rows["reach"]], lam[block.rows["at_most_one"]]
    incentive = lam[block.rows["incentive"]]
    y = np.zeros(len(system.labels))
    seen: set[int] = set()
    for r, label in enumerate(system.labels):
        if r == system.budget_row:
            y[r] = float(lam[block.rows["budget"]][0]) / cost_scale(arrays)
            continue
        k = position.get(label)
        if k is None:
            return None  # a row this mapping does not know: the spec is solved alone
        if k in seen:
            y[r] = capped[k]
        else:
            y[r] = reach[k] if weight[k] > 0 else incentive[k]
            seen.add(k)
    return check(system, y)


def _least_costs(
    members: Sequence[ProblemArrays], solver: str, calls: list[int]
) -> dict[int, float | None]:
    """The least oversight cost of members with their budgets lifted, from stacked
    solves, each block judged as ``solve_arrays_cost`` judges a spec alone: by member index,
    None for a member infeasible even without its budget (phase one; its diagnosis keeps
    the certificate's bound, as alone, where no attempt verifies). A member missing from
    the answer (its block failed its checks, or the stack did not solve) is solved alone.
    ``calls`` gets the number of solver calls made."""
    lifted = [without_budget(a) for a in members]
    if not lifted or not all(stackable(a) for a in lifted):
        return {}
    costs: dict[int, float | None] = {}
    program = build_stack(lifted)
    kept = list(range(len(lifted)))
    calls.append(1)
    if _solve(program, solver) not in _SOLVED:
        calls.append(1)  # phase one
        phase_one = build_stack(lifted, elastic=True)
        slack = block_slack(phase_one) if _solve(phase_one, solver) in _SOLVED else None
        if slack is None:
            return costs
        costs = {i: None for i in kept if slack[i] > SLACK_TOLERANCE}
        kept = [i for i in kept if i not in costs]
        if not kept:
            return costs
        program = build_stack([lifted[i] for i in kept])
        calls.append(1)  # the feasible ones again
        if _solve(program, solver) not in _SOLVED:
            return costs
    z, duals = program.primal(), program.duals()
    if z is None or duals is None:
        return costs
    bounds = block_bounds(program, [lifted[i] for i in kept])
    for index, i in enumerate(kept):
        verdict = _judge_block(lifted[i], program, index, z, duals[0], bounds, TOLERANCE)
        if verdict.answer is not None:
            costs[i] = float(lifted[i].cost @ verdict.answer.rates)
    return costs


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
