"""Solving many specs as the blocks of one program: the engine step of batches and sweeps.

The specs whose program is the plain core LP (``formulation/stacked.py:stackable``) are
compiled into one block-diagonal cvxpy program and solved with one solver call; every block
is then judged on its own, exactly as ``core.py`` judges a spec solved alone: its rates
are read from its own columns, :func:`~deter.solver.engine.verify.verify_policy` checks the
model at them, and a duality certificate is computed for the block from its own slices of
the stacked matrices and duals (the duals of a block-diagonal LP restricted to a block are
that block's duals; see :func:`block_bounds`). A block that passes gets the result
``core.py`` builds (``optimal_results``), with the same attempt line.

Infeasible members. When the plain stack is infeasible, one solve with priced slacks
(``build_stack(penalty=PENALTY)``: a slack on every incentive and budget row, priced at
``PENALTY`` in the objective, an exact penalty) finds every infeasible block (the blocks
that take slack), and its duals restricted to such a block are the block's multipliers:
they are checked in exact arithmetic by ``infeasibility.check`` on the spec's own system
(:func:`block_certificate`), as a spec solved alone is proven, and the result is the one
``core.infeasible_result`` builds (its diagnosis; with a budget, the least cost without it
from one more stacked solve of their lifted copies). A block whose priced multipliers prove
nothing (its slack is too small for the price to outweigh its costs: mostly a budget a hair
below the least cost) is proven by that least-cost stack where it can be: its lifted
block's multipliers with weight one on the budget are the Lagrangian bound, a certificate
when the verified least cost exceeds the budget (``infeasibility._lagrangian``'s, checked
the same way). Only what that leaves gets phase one's (least total slack,
``build_stack(elastic=True)``), which also tells a feasible block whose duals exceed the
price. The feasible members are then stacked again without slacks and judged from that
program, so that each gets the vertex it gets without infeasible neighbours. A lifted block
that fails its checks, one of whose actions no policy deters (a single row of the member's
system without its budget, checked exactly), has no least cost: no attempt alone could
verify one (verification holds incentive rows exactly), so it is not solved alone. A worker whose
last stack had an infeasible member starts the next with the priced solve (one solve fewer
for a mix with infeasible specs; the answers are the same either way).

Failed blocks. The blocks of a plain stack that fail verification or their certificate
(mostly CARA agents whose rows need a detection of 1e-8 to 1e-26, which HiGHS meets with
every rate 0 within its tolerance) are solved again as one stack in the rescaled attempt's
units (``formulation/stacked_scaling.py``; each block on its own when that stack is
infeasible) and judged the same way; a block that fails that too gets the certificate of
infeasibility a spec solved alone ends with (``infeasibility.certify_infeasible``), since
most such blocks are infeasible specs that the plain stack took for feasible.

Isolation. A spec that is not stackable, whose block fails its checks in both stacks and
is not proven infeasible, or whose certificate of infeasibility does not hold, is handed
back as ``None``: the caller solves it alone through the ordinary path (``engine.solve``),
which gives its retries, its diagnosis and its status.

What may differ from solving a spec alone: only the choice among equally cheap optima (a
degenerate LP with several optimal vertices), which can depend on the other blocks of its
stack; costs agree to round-off and every answer carries the same checks. An infeasible
member's attempt line names the priced stack (or phase one), and where the least cost
without its budget has no verified answer, the lower bound its diagnosis quotes is its own
certificate's (from other multipliers than alone).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import cvxpy as cp
import numpy as np

from ..formulation.components.base import Context
from ..formulation.components.deterrence import Deterrence, IncentiveHandles, prime
from ..formulation.components.monitoring import cost_scale
from ..formulation.program import SOLVER_ORDER, CompiledProgram, variable_bound
from ..formulation.stacked import Block, StackedProgram, block_slack, build_stack, stackable
from ..formulation.stacked_scaling import rescaled
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray
from ..results.result import DualityCertificate, Result
from ..spec.document import Spec
from ..spec.strategy import uses_strategy
from .attempts import CONIC_SOLVERS, TIGHT_OPTIONS, Attempt, Verdict
from .certificate import GAP_TOLERANCE, BoundFigures, LinearForm, lagrangian_bounds
from .core import (
    Answer,
    Member,
    accept_policies,
    infeasible_result,
    least_cost_without_budget,
    optimal_results,
)
from .diagnose import without_budget
from .infeasibility import (
    Certificate,
    System,
    build_system,
    certify_infeasible,
    check,
    single_row_certificate,
)
from .learner import with_learner_verdict
from .readout import Clock
from .verify import TOLERANCE

#: Specs per stack in ``deter batch``: large enough to amortise cvxpy's per-call overhead
#: (a few ms), small enough that the workers share the load and a stack's result stays small.
STACK_SIZE = 64
#: A block whose phase-one slack (relative to its rows' right-hand sides) exceeds this is
#: solved alone (a feasible one sent alone costs time, never an answer).
SLACK_TOLERANCE = 1e-9
#: The price of a unit of slack in a stack's objective (``build_stack(penalty=...)``, program
#: units: costs divided by the largest, incentive rows by d_i). A feasible block takes no
#: slack when its incentive and budget duals are below it (at most 20 on the full-vocabulary
#: ``lp`` mix); a block whose duals are larger is found feasible by phase one and stacked
#: again (slower, never another answer). Too large a price would cost HiGHS accuracy.
PENALTY = 1e4
_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
#: Whether this process's last stack had an infeasible member: if so the next one starts
#: with priced slacks, else with the plain stack (which fails when a member is infeasible).
#: Only the number of solves depends on it, never an answer: feasible members are always
#: judged from their plain stack.
_expect_infeasible = [False]
_LP_SOLVERS = ("HIGHS", *CONIC_SOLVERS)


@dataclass(frozen=True)
class StackStats:
    """What one call of :func:`solve_stacked` did (for benchmarks and tests)."""

    stacked: int = 0  # specs answered from a stack
    alone: int = 0  # specs handed back to be solved alone
    solves: int = 0  # stacked solver calls (phase one included)
    reasons: dict[str, int] = field(default_factory=dict)


def arrays_of(spec: Spec, arrays: ProblemArrays | None = None) -> ProblemArrays | None:
    """The spec's arrays (``arrays`` when already built) when it can be stacked, else None."""
    if uses_strategy(spec) or (spec.learner is not None and spec.learner.bound == "bernstein"):
        # Bernstein margins depend on the rates: engine/learner.py's iteration and certificate
        return None
    if arrays is None:
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
    solves: list[int] = []
    solver = solvers[0] if solvers else ""
    members = [k for k, a in enumerate(arrays) if a is not None]
    reasons["not stackable"] = len(specs) - len(members)
    if solver not in _LP_SOLVERS or len(members) < 1:
        _note(stats, results, len(solves), reasons)
        return results
    block_arrays = [arrays[k] for k in members]
    prime([a for a in block_arrays if a is not None])  # every member's rows in one pass
    plain = _Plain(specs, arrays, solver, tolerance, started, solves, results, reasons)
    # The plain stack first: when every member is feasible, one solve answers them all.
    if not _expect_infeasible[0] and plain.answer(members):
        _note(stats, results, len(solves), reasons)
        return results
    # Priced slacks (one solve): which blocks are infeasible, and their multipliers.
    priced = build_stack(block_arrays, penalty=PENALTY)  # type: ignore[arg-type]
    solves.append(1)
    slack = block_slack(priced) if _solve(priced, solver) in _SOLVED else None
    duals = priced.duals()
    if slack is None or duals is None:
        reasons["stack unsolved"] = len(members)
        _note(stats, results, len(solves), reasons)
        return results
    over = slack > SLACK_TOLERANCE
    _expect_infeasible[0] = bool(over.any())
    infeasible = [(i, k) for i, k in enumerate(members) if over[i]]
    feasible = [k for i, k in enumerate(members) if not over[i]]
    systems: dict[int, System] = {}
    proofs = {
        k: block_certificate(arrays[k], priced.blocks[i], duals[0], systems=systems, key=k)  # type: ignore[arg-type]
        for i, k in infeasible
    }
    lines = dict.fromkeys(proofs, _proof_line(solver, "a stack with priced slacks", priced))
    # The least costs without their budgets (for the diagnosis, and the Lagrangian proof of
    # a block whose priced multipliers proved nothing): one stack of the lifted copies of
    # the infeasible members with a budget.
    lifted = [
        k
        for k, proof in proofs.items()
        if arrays[k].budget is not None  # type: ignore[union-attr]
        and (proof is None or proof.least_cost_bound is not None)
    ]
    costs, lifted_duals = _least_costs(arrays, lifted, solver, solves, systems)
    for k in [k for k, proof in proofs.items() if proof is None and k in lifted_duals]:
        proof = _lagrangian_proof(arrays[k], costs.get(k), lifted_duals[k], systems, k)  # type: ignore[arg-type]
        if proof is not None:
            proofs[k] = proof
            lines[k] = _proof_line(solver, "its least cost without the budget, over it", None)
    unproven = [k for k, proof in proofs.items() if proof is None]
    # feasible after all (a dual above the price): answered with the others below
    retry = _phase_one(arrays, unproven, solver, solves, proofs, lines, systems) if unproven else []
    # The feasible members' answers come from their plain stack (no slack columns), so that
    # a block with several optimal vertices gets the one it gets without infeasible
    # neighbours: the one a spec solved alone gets (tests/batch/test_stacked_agrees.py).
    plain.answer_or_note(sorted([*feasible, *retry]))
    if proofs:
        _answer_infeasible(specs, arrays, proofs, lines, solver, solves, results, costs)
        left = [k for k in proofs if k not in retry]
        unanswered = sum(results[k] is None for k in left)
        reasons["infeasible, certified from the stack"] = len(left) - unanswered
        reasons["infeasible, not certified from the stack"] = unanswered
    _note(stats, results, len(solves), reasons)
    return results


@dataclass
class _Plain:
    """Answers members from their plain stack (no slacks): one solve, each block judged."""

    specs: Sequence[Spec]
    arrays: Sequence[ProblemArrays | None]
    solver: str
    tolerance: float
    started: float
    solves: list[int]
    results: list[Result | None]
    reasons: dict[str, int]

    def answer(self, members: Sequence[int]) -> bool:
        """Solve and judge ``members``' plain stack; False when it does not solve (some
        member is infeasible, or the solver failed), with nothing answered."""
        block_arrays: list[ProblemArrays] = [self.arrays[k] for k in members]  # type: ignore[misc]
        program = build_stack(block_arrays)
        self.solves.append(1)
        if _solve(program, self.solver) not in _SOLVED:
            return False
        share = (time.perf_counter() - self.started) / max(len(self.specs), 1)
        pairs = list(enumerate(members))
        _judge_members(
            self.specs, block_arrays, program, pairs, self.solver, self.tolerance, share,
            self.results, self.reasons,
        )  # fmt: skip
        failed = [(i, k) for i, k in pairs if self.results[k] is None]
        if failed:
            self.failed_blocks(block_arrays, failed)
        return True

    def answer_or_note(self, members: Sequence[int]) -> None:
        """:meth:`answer`, the members counted as unsolved when their stack does not solve."""
        if members and not self.answer(members):
            self.reasons["stack unsolved"] = self.reasons.get("stack unsolved", 0) + len(members)

    def failed_blocks(
        self, block_arrays: Sequence[ProblemArrays], failed: Sequence[tuple[int, int]]
    ) -> None:
        """The blocks that failed their checks in their plain stack: first the rescaled
        retry (:meth:`rescaled`), then, for a block that fails it too, the certificate of
        infeasibility a spec solved alone ends with when no attempt verifies (most such
        blocks are infeasible specs that the plain stack took for feasible within its
        tolerances). What neither answers is solved alone."""
        checked = self.reasons.get("failed its checks", 0) - len(failed)
        if self.solver in TIGHT_OPTIONS:
            self.rescaled(block_arrays, failed)
        rescued = sum(self.results[k] is not None for _, k in failed)
        for i, k in failed:
            if self.results[k] is None:
                self.proven(block_arrays[i], k)
        proven = sum(self.results[k] is not None for _, k in failed) - rescued
        self.reasons["failed its checks"] = checked + len(failed) - rescued - proven
        for reason, count in (
            ("answered from a rescaled stack", rescued),
            ("infeasible, certified after its stack's checks failed", proven),
        ):
            self.reasons[reason] = self.reasons.get(reason, 0) + count

    def rescaled(
        self, block_arrays: Sequence[ProblemArrays], failed: Sequence[tuple[int, int]]
    ) -> None:
        """The rescaled retry (``attempts.py``'s third attempt, the one a spec whose rows
        need a detection of 1e-8 passes alone) of the blocks that failed their checks, as
        one stack: those blocks in data-chosen units with equilibrated rows
        (``formulation/stacked_scaling.py``), tight tolerances, each block judged as a plain
        stack's. When that stack does not solve (a member the plain stack took for feasible
        is not), each block is tried on its own."""
        members = [k for _, k in failed]
        arrays = [block_arrays[i] for i, _ in failed]
        program = rescaled(build_stack(arrays), arrays)
        self.solves.append(1)
        if _solve(program, self.solver, **TIGHT_OPTIONS[self.solver]) not in _SOLVED:
            if len(failed) > 1:
                for one in failed:
                    self.rescaled(block_arrays, [one])
            return
        share = (time.perf_counter() - self.started) / max(len(self.specs), 1)
        label = Attempt(self.solver, scaled=True).label
        _judge_members(
            self.specs, arrays, program, list(enumerate(members)), label, self.tolerance,
            share, self.results, {},
        )  # fmt: skip

    def proven(self, arrays: ProblemArrays, k: int) -> None:
        """Block ``k``'s certificate of infeasibility from the spec's own system
        (``infeasibility.certify_infeasible``, checked exactly), as ``core.solve_core``
        proves a spec no attempt verified; its result when it holds."""
        clock = Clock()
        certificate = certify_infeasible(arrays)
        if certificate is None:
            return
        line = "no stack verified its block (plain, rescaled); a certificate of infeasibility holds"
        result = infeasible_result(
            self.specs[k], arrays, certificate, "certificate of infeasibility", clock,
            attempts=(line,),
        )  # fmt: skip
        if result is not None:
            self.results[k] = with_learner_verdict(self.specs[k], result)


def _proof_line(solver: str, what: str, program: StackedProgram | None) -> str:
    if program is None:  # the least costs' stack: its blocks' optima, not a solver status
        return f"{solver}: {what}: infeasible, proven by its block's duals (a Lagrangian bound)"
    status = program.record.status if program.record is not None else ""
    return f"{solver}: {what}, {status}: infeasible, proven by its block's duals"


def _phase_one(
    arrays: Sequence[ProblemArrays | None],
    members: Sequence[int],
    solver: str,
    solves: list[int],
    proofs: dict[int, Certificate | None],
    lines: dict[int, str],
    systems: dict[int, System] | None = None,
) -> list[int]:
    """Phase one (least total slack) of the members whose priced slacks proved nothing:
    a block with slack gets its multipliers checked (``proofs``); returns the members it
    finds feasible (their duals were above the penalty). A member whose phase one fails
    is dropped from ``lines`` (solved alone)."""
    phase_one = build_stack([arrays[k] for k in members], elastic=True)  # type: ignore[misc]
    solves.append(1)
    slack = block_slack(phase_one) if _solve(phase_one, solver) in _SOLVED else None
    duals = phase_one.duals()
    if slack is None or duals is None:
        for k in members:
            lines.pop(k, None)
        return []
    line = _proof_line(solver, "phase one of a stack", phase_one)
    feasible = []
    for j, k in enumerate(members):
        if slack[j] <= SLACK_TOLERANCE:
            feasible.append(k)
            lines.pop(k, None)
            continue
        member = arrays[k]
        assert member is not None
        proofs[k] = block_certificate(member, phase_one.blocks[j], duals[0], systems=systems, key=k)
        lines[k] = line
    return feasible


def _judge_members(
    specs: Sequence[Spec],
    block_arrays: Sequence[ProblemArrays],
    program: StackedProgram,
    members: Sequence[tuple[int, int]],
    solver: str,
    tolerance: float,
    share: float,
    results: list[Result | None],
    reasons: dict[str, int],
) -> None:
    """Judge the blocks ``(block index, spec index)`` of a solved stack (``block_arrays``:
    each block's arrays), each as a spec solved alone is judged (``core.accept_policy``);
    the results of those that pass."""
    if not members:
        return
    z = program.primal()
    duals = program.duals()
    if z is None or duals is None:
        reasons["stack unsolved"] = reasons.get("stack unsolved", 0) + len(members)
        return
    bounds = block_bounds(program, block_arrays)
    if isinstance(bounds, str):
        reasons["failed its checks"] = reasons.get("failed its checks", 0) + len(members)
        return
    judged = [_block_member(block_arrays[i], program, i, z, duals[0], bounds) for i, _ in members]
    verdicts = accept_policies(judged, tolerance)
    passed = []
    for (i, k), verdict in zip(members, verdicts, strict=True):
        if verdict.answer is None:
            reasons["failed its checks"] = reasons.get("failed its checks", 0) + 1
            continue
        clock = Clock()
        clock.add("build", 0.0)
        clock.add("solve", share)
        clock.started -= share
        line = f"{solver}: {program.record.status}, {verdict.proof}"  # type: ignore[union-attr]
        passed.append((k, (specs[k], block_arrays[i], verdict.answer, solver, (line,), clock)))
    built = optimal_results([item for _, item in passed])
    for (k, _), result in zip(passed, built, strict=True):
        results[k] = result


def _answer_infeasible(
    specs: Sequence[Spec],
    arrays: Sequence[ProblemArrays | None],
    proofs: dict[int, Certificate | None],
    lines: dict[int, str],
    solver: str,
    solves: list[int],
    results: list[Result | None],
    costs: dict[int, float | None],
) -> None:
    """Answer the members a stack found infeasible whose certificate (``proofs``, checked
    exactly by ``infeasibility.check`` as a spec solved alone is proven) holds; with a
    budget, the least costs without it (``costs``, by member: from the stack of their
    lifted copies, :func:`_least_costs`; a member missing there is solved alone). A member
    whose certificate does not hold stays None (solved alone)."""
    started = time.perf_counter()
    proven = [k for k in lines if proofs.get(k) is not None]
    if not proven:
        return
    share = (time.perf_counter() - started) / len(proven)
    for k in proven:
        arr = arrays[k]
        assert arr is not None
        clock = Clock()
        clock.add("build", 0.0)
        clock.add("solve", share)
        clock.started -= share

        def least_cost_of(a: ProblemArrays, k: int = k) -> float | None:
            return costs[k] if k in costs else least_cost_without_budget(a)

        proven_result = infeasible_result(
            specs[k],
            arr,
            proofs[k],
            solver,
            clock,
            attempts=(lines[k],),
            least_cost_of=least_cost_of,
        )
        if proven_result is not None:
            proven_result = with_learner_verdict(specs[k], proven_result)
        results[k] = proven_result


def _lagrangian_proof(
    arrays: ProblemArrays,
    least_cost: float | None,
    lifted: tuple[Block, FloatArray],
    systems: dict[int, System],
    key: int,
) -> Certificate | None:
    """The certificate of a member whose least cost without its budget (verified, from its
    lifted block) exceeds the budget: the lifted block's multipliers with weight one on the
    budget row (the Lagrangian bound c x >= y'b + min over the box of (c - A'y) x, the
    budget's certificate when it exceeds the budget, as ``infeasibility._lagrangian``
    forms it for a spec solved alone), checked exactly on the spec's own system."""
    if least_cost is None or arrays.budget is None or not least_cost > arrays.budget:
        return None
    block, lam = lifted
    return block_certificate(arrays, block, lam, budget_weight=1.0, systems=systems, key=key)


def block_certificate(
    arrays: ProblemArrays,
    block: Block,
    lam: FloatArray,
    *,
    budget_weight: float | None = None,
    systems: dict[int, System] | None = None,
    key: int = -1,
) -> Certificate | None:
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

    ``budget_weight``: the budget row's multiplier (program units) when the block has no
    budget row (a lifted block's Lagrangian, :func:`_lagrangian_proof`). ``systems``: the
    members' systems already built (by ``key``), and where this one is kept.
    """
    system = systems.get(key) if systems is not None else None
    if system is None:
        system = build_system(arrays)
        if systems is not None:
            systems[key] = system
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
            if budget_weight is None:
                budget_weight = float(lam[block.rows["budget"]][0])
            y[r] = budget_weight / cost_scale(arrays)
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
    arrays: Sequence[ProblemArrays | None],
    members: Sequence[int],
    solver: str,
    calls: list[int],
    systems: dict[int, System] | None = None,
) -> tuple[dict[int, float | None], dict[int, tuple[Block, FloatArray]]]:
    """The least oversight cost of ``members`` (spec indices) with their budgets lifted
    (``without_budget``), from one stacked solve with priced slacks, each block judged as
    ``solve_arrays_cost`` judges a spec alone: by spec index, None for a member proven
    infeasible even without its budget (its block's multipliers, checked exactly), missing
    where it is solved alone (its block failed its checks or proved nothing, or the stack
    did not solve); and each member's block and the stack's duals (for
    :func:`_lagrangian_proof`). ``calls`` gets one entry per solver call; ``systems``:
    the members' systems (``block_certificate``), by spec index."""
    copies = {k: without_budget(arrays[k]) for k in members}  # type: ignore[arg-type]
    members = [k for k in members if stackable(copies[k])]
    if not members:
        return {}, {}
    lifted = [copies[k] for k in members]
    program = build_stack(lifted, penalty=PENALTY)
    calls.append(1)
    duals = program.duals() if _solve(program, solver) in _SOLVED else None
    if duals is None:
        return {}, {}
    costs: dict[int, float | None] = {}
    slack, z = block_slack(program), program.primal()
    if slack is None or z is None:
        return costs, {}
    feasible = [j for j in range(len(lifted)) if slack[j] <= SLACK_TOLERANCE]
    for j, k in enumerate(members):
        if slack[j] > SLACK_TOLERANCE:
            # infeasible even without its budget: its diagnosis keeps the certificate's
            # bound, as alone, where no attempt verifies; checked on the member's own
            # system with no weight on its budget row (the lifted system: the same rows
            # without the budget), built once
            proof = block_certificate(
                arrays[k],  # type: ignore[arg-type]
                program.blocks[j],
                duals[0],
                budget_weight=0.0,
                systems=systems,
                key=k,
            )
            if proof is not None:
                costs[k] = None
    bounds = block_bounds(program, lifted) if feasible else "no block without slack"
    verdicts: list[Verdict[Answer]]
    if isinstance(bounds, str):
        verdicts = [Verdict.reject(bounds) for _ in feasible]
    else:  # the one accept-or-reject step, for these blocks together (as _judge_members)
        judged = [_block_member(lifted[j], program, j, z, duals[0], bounds) for j in feasible]
        verdicts = accept_policies(judged, TOLERANCE)
    for j, verdict in zip(feasible, verdicts, strict=True):
        k = members[j]
        if verdict.answer is not None:
            costs[k] = float(lifted[j].cost @ verdict.answer.rates)
        elif _undeterrable(arrays[k], k, systems):  # type: ignore[arg-type]
            # failed its checks, and no policy at all deters one of its actions (a knife
            # edge the stack's tolerances took for feasible): solved alone it would end
            # with no verified answer too (verification holds incentive rows exactly)
            costs[k] = None
    return costs, {k: (program.blocks[j], duals[0]) for j, k in enumerate(members)}


def _undeterrable(arrays: ProblemArrays, key: int, systems: dict[int, System] | None) -> bool:
    """Whether one row of the member's system without its budget (an action no allowed
    policy deters) is a certificate of infeasibility, checked exactly; no LP."""
    system = systems.get(key) if systems is not None else None
    if system is None:
        system = build_system(arrays)
        if systems is not None:
            systems[key] = system
    return single_row_certificate(system, without_budget=True) is not None


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


def _solve(program: StackedProgram, solver: str, **options: Any) -> str:
    try:
        return program.solve(solver, **options).status
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
    return accept_policies([_block_member(arrays, program, index, z, lam, bounds)], tolerance)[0]


def _block_member(
    arrays: ProblemArrays,
    program: StackedProgram,
    index: int,
    z: FloatArray,
    lam: FloatArray,
    bounds: BoundFigures,
) -> Member:
    """Block ``index`` of a solved stack as the one accept-or-reject step takes it: its
    rates, its incentive duals, and its own certificate from the stack's bounds, at the
    cost of the policy reported."""
    block = program.blocks[index]
    view = _BlockProgram.of(lam[block.rows["incentive"]])
    solved = np.clip(z[block.rates], arrays.min_rate, arrays.max_rate)
    scale = cost_scale(arrays)

    def certificate_of(reported: float) -> DualityCertificate:
        return bounds.verdict(index, GAP_TOLERANCE, scale, primal=reported / scale)

    return Member(arrays, view, solved, certificate_of)


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
