"""Full deterrence at least cost: the core program's read-out, verification and certificate.

An answer is reported as optimal only when deter's own check of the model's constraints
passes at the returned rates (``verify.py``) and the program's certificate holds
(``certificate.py``); otherwise the next attempt runs (``attempts.py``), and when none
passes the status is ``solver_error`` with the measured violations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import NamedTuple

import numpy as np

from ..formulation.components.base import Component
from ..formulation.components.detection import overlap_notes, overlapping_inspections
from ..formulation.components.deterrence import Deterrence, incentive_rows
from ..formulation.components.monitoring import cost_scale
from ..formulation.components.penalty import chosen_penalties, component_shadow_prices
from ..formulation.program import (
    SOLVER_ORDER,
    CompiledProgram,
    SolveRecord,
    program_for,
    variable_bound,
)
from ..formulation.scaling import RescaledProgram, Rescaling
from ..model.arrays import ProblemArrays
from ..model.penalties import penalty_cost_of
from ..model.utility import FloatArray, certainty_equivalent
from ..results.result import ActionResult, DualityCertificate, Result, Verification
from ..results.status import Status
from ..spec.document import Spec
from . import flag_search, penalty_polish
from .attempts import Attempt, Verdict, attempt_plan, run
from .certificate import GAP_TOLERANCE, certify
from .diagnose import diagnose, without_budget
from .duals import read_duals
from .infeasibility import Certificate
from .readout import Clock, harm_report, monitor_results, no_verified_answer, unsolved
from .repair import rational_only, repairs, vertex_policies
from .verify import (
    SLACK_PRICED,
    TOLERANCE,
    PolicyEvaluation,
    evaluate_policy,
    margin_in_utility,
    verify_evaluated,
)
from .verify_stack import Ragged, penalties_of, takes


@dataclass(frozen=True)
class Answer:
    """A verified and certified solve of the core program, in the model's units."""

    program: CompiledProgram | None  # None: a search of many programs (flag_search.py)
    rates: FloatArray
    penalties: FloatArray  # per action; the compliant entry is the false-positive penalty
    verification: Verification
    shadow: dict[str, float] | None = None  # when the answer comes without one program
    # the agent's view of the policy, as verification computed it (else computed again)
    evaluation: PolicyEvaluation | None = field(default=None, compare=False, repr=False)


def solve_core(
    spec: Spec, *, solvers: Sequence[str] = SOLVER_ORDER, tolerance: float = TOLERANCE
) -> Result:
    """The least-cost policy that deters every non-compliant action (no strategic features)."""
    clock = Clock()
    arrays = ProblemArrays.for_design(spec)
    program = program_for(arrays)
    clock.add("build", clock.since_start())
    diagnosed: list[Result] = []
    points: list[FloatArray] = []  # the first rejected solver point, with a budget

    def program_for_attempt(attempt: Attempt) -> CompiledProgram:
        return Rescaling.apply(arrays) if attempt.scaled else program

    def judge(current: CompiledProgram, attempt: Attempt, record: SolveRecord) -> Verdict[Answer]:
        if penalty_polish.applies(arrays):  # the cone's penalties start the exact method
            start = chosen_penalties(current.parts, arrays, current.rates(arrays))
            return _polished(arrays, current, start, tolerance)
        verdict = judge_core(arrays, current, record, tolerance)
        if verdict.answer is None and arrays.budget is not None and not points:
            points.append(current.rates(arrays))  # for the exact vertex's account, below
        return verdict

    def infeasible(attempt: Attempt) -> bool:
        result = proven_infeasible(spec, arrays, attempt.label, clock)
        if result is not None:
            diagnosed.append(result)
        return result is not None

    plan = attempt_plan(solvers, linear=program.linear)
    began = time.perf_counter()
    outcome = run(plan, program_for_attempt, judge, infeasible=infeasible)
    if outcome.answer is None and not diagnosed:
        # No solver said "infeasible" (each answered "optimal", a hair over a budget, say)
        # and none verified: the spec may still be provably infeasible; try the proof.
        proven = proven_infeasible(spec, arrays, "certificate of infeasibility", clock)
        if proven is not None:
            diagnosed.append(proven)
            line = "no attempt verified; a certificate of infeasibility holds"
            outcome = replace(
                outcome,
                status=Status.infeasible,
                solver="certificate of infeasibility",
                attempts=(*outcome.attempts, line),
            )
    clock.add("solve", time.perf_counter() - began)
    if outcome.status == "infeasible":
        infeasible_result = diagnosed[-1]
        return unsolved(
            spec,
            Status.infeasible,
            infeasible_result.message,
            outcome.attempts,
            clock,
            solver=outcome.solver,
            diagnosis=infeasible_result.diagnosis,
        )
    if outcome.answer is None or outcome.solver is None:
        reason = next(filter(None, (rational_only(arrays, x) for x in points)), None)
        return unsolved(
            spec,
            Status.solver_error,
            reason or no_verified_answer(outcome.attempts),
            outcome.attempts,
            clock,
        )
    result = _optimal(spec, arrays, outcome.answer, outcome.solver, outcome.attempts, clock)
    # The multipliers ``deter explain`` prices constraints with, from the certified program
    # (a stacked block's result carries none: explain solves alone; nor does an answer of
    # a search over many programs).
    answered = outcome.answer.program
    if answered is None:
        return result
    # a row slack at the answer has no multiplier, as it has no shadow price (``_optimal``)
    evaluation = outcome.answer.evaluation
    if evaluation is None:
        evaluation = evaluate_policy(arrays, outcome.answer.rates, outcome.answer.penalties)
    slack = slack_rows(arrays, evaluation)
    return replace(result, duals=read_duals(answered, arrays, slack[arrays.deviations]))


def _polished(
    arrays: ProblemArrays, program: CompiledProgram, start: FloatArray | None, tolerance: float
) -> Verdict[Answer]:
    """Penalty design with linear detection: rate LPs and a Lagrangian bound (exact)."""
    polished = penalty_polish.polish(arrays, start, tolerance)
    if polished.answer is None:
        return Verdict.reject(f"the rate LPs: {polished.failure}")
    proof = f"verified and certified (from {polished.steps} rate LPs)"
    return Verdict.accept(Answer(program, *polished.answer), proof)


def judge_core(
    arrays: ProblemArrays,
    current: CompiledProgram,
    record: SolveRecord,
    tolerance: float,
) -> Verdict[Answer]:
    """Read a solved program's policy, verify it against the model, then certify it (a
    rescaled program in its own units, ``_certificate``)."""
    return accept_policy(
        arrays,
        current,
        current.rates(arrays),
        tolerance,
        lambda reported: _certificate(arrays, current, record, reported=reported),
    )


def accept_policy(
    arrays: ProblemArrays,
    program: CompiledProgram,
    solved: FloatArray,
    tolerance: float,
    certificate_of: Callable[[float], DualityCertificate],
) -> Verdict[Answer]:
    """The one accept-or-reject step of the core program, for a spec solved alone
    (``judge_core``) and for a block of a stack (``stacked.py``), so both answer alike:
    :func:`accept_policies` of one member."""
    return accept_policies([Member(arrays, program, solved, certificate_of)], tolerance)[0]


@dataclass(frozen=True)
class Member:
    """A solved program's policy to judge: ``solved``, the solver's rates within their
    bounds; ``program``, what gives the penalties (its parts) and shadow prices;
    ``certificate_of(cost)``, the duality certificate at the cost of the policy reported."""

    arrays: ProblemArrays
    program: CompiledProgram
    solved: FloatArray
    certificate_of: Callable[[float], DualityCertificate]


def accept_policies(members: Sequence[Member], tolerance: float) -> list[Verdict[Answer]]:
    """The one accept-or-reject step of the core program, for many members at once (the
    blocks of a stack) or one (a spec solved alone).

    Each member's candidates are tried cheapest first (``_candidates``, then ``_repaired``
    and ``_at_vertex``); the first that verifies is certified. The first candidate of
    every member of the plain linear program (``verify_stack.takes``) is made and verified
    for all of them together (``verify_stack.Ragged``: the same numbers as one by one); a
    member whose first candidate fails, and every other member, goes through its
    candidates one by one (``_accept_one``).
    """
    verdicts: list[Verdict[Answer] | None] = [None] * len(members)
    together = [i for i, m in enumerate(members) if _together(m)]
    if together:
        firsts = _first_candidates([members[i] for i in together], tolerance)
        for i, found in zip(together, firsts, strict=True):
            if found is not None:
                verdicts[i] = _certified(members[i], *found)
    return [
        verdict if verdict is not None else _accept_one(member, tolerance)
        for member, verdict in zip(members, verdicts, strict=True)
    ]


def _together(member: Member) -> bool:
    """Whether the member's first candidate is made and checked with the others': the
    plain linear program with the penalties at their caps (no part chooses them), a
    finite solver point."""
    return (
        takes(member.arrays)
        and all(
            type(part).chosen_penalties is Component.chosen_penalties
            for part, _ in member.program.parts
        )
        and bool(np.all(np.isfinite(member.solved)))
    )


def _first_candidates(
    members: Sequence[Member], tolerance: float
) -> list[tuple[FloatArray, FloatArray, Verification, PolicyEvaluation, float] | None]:
    """Each member's first candidate (``_candidates``' first, all members together), with
    its penalties, verification, evaluation and reported cost when it verifies, else None."""
    ragged = Ragged.of([m.arrays for m in members])
    on = ragged.monitor_of
    solved = np.concatenate([np.asarray(m.solved, dtype=float) for m in members])
    largest = np.maximum(np.maximum.reduceat(solved, ragged.monitor_start), 0.0)
    snapped = np.where(solved <= SNAP * largest[on], ragged.min_rate, solved)
    differs = np.logical_or.reduceat(snapped != solved, ragged.monitor_start)
    start = np.where(differs[on], snapped, solved)
    raised = ragged.outward(start, ragged.evaluate(start), OUTWARD, REPAIRABLE)
    candidate = np.where((largest <= SNAP)[on], ragged.min_rate, raised)
    found: list[tuple[FloatArray, FloatArray, Verification, PolicyEvaluation, float] | None] = []
    for k, (verification, evaluation, total) in enumerate(ragged.verify(candidate, tolerance)):
        if not verification.passed:
            found.append(None)
            continue
        arrays = members[k].arrays
        rates = ragged.rates_of(candidate, k).copy()
        found.append((rates, penalties_of(arrays), verification, evaluation, total))
    return found


def _accept_one(member: Member, tolerance: float) -> Verdict[Answer]:
    """One member's candidates, one by one, until one verifies; then its certificate."""
    arrays, program, solved = member.arrays, member.program, member.solved
    for rates in chain(
        _candidates(arrays, solved, program),
        _repaired(arrays, solved, program),
        _at_vertex(arrays, solved),
    ):
        penalties = chosen_penalties(program.parts, arrays, rates)
        total_cost = float(arrays.cost @ rates) + penalty_cost_of(
            arrays, penalties[arrays.deviations]
        )
        verification, evaluation = verify_evaluated(
            arrays, rates, total_cost, tolerance, penalties=penalties
        )
        if verification.passed:
            break
    if not verification.passed:
        return Verdict.reject(f"failed verification ({verification.failure()})")
    return _certified(member, rates, penalties, verification, evaluation, total_cost)


def _certified(
    member: Member,
    rates: FloatArray,
    penalties: FloatArray,
    verification: Verification,
    evaluation: PolicyEvaluation | None,
    total_cost: float,
) -> Verdict[Answer]:
    """A verified policy's verdict: accepted when its certificate holds."""
    certificate = member.certificate_of(total_cost)
    if not certificate.passed:
        return Verdict.reject(f"failed its certificate ({certificate.reason})")
    proof = "verified and certified" if certificate.applies else "verified"
    verified = _with_certificate(verification, certificate)
    answer = Answer(member.program, rates, penalties, verified, evaluation=evaluation)
    return Verdict.accept(answer, proof)


#: How far rates are rounded outward after a solve (relative): far above float64's round-off
#: in a binding incentive row (about 1e-16 of its terms), far below any cost that matters.
OUTWARD = 1e-11
#: The largest relative shortfall of an incentive row that rounding outward repairs (a
#: solver's tolerance); anything larger is a wrong answer, left for verification to refuse.
REPAIRABLE = 1e-6


def _candidates(
    arrays: ProblemArrays, solved: FloatArray, program: CompiledProgram
) -> Iterator[FloatArray]:
    """Policies to verify, cheapest first: an interior-point solver leaves rates that
    should sit at their floors a hair above them (1e-11 where nothing needs monitoring);
    those snapped to the floor, when that still verifies, are the vertex it was near. Then
    the solved rates rounded outward, then as solved."""
    largest = float(np.max(solved, initial=0.0))
    snapped = np.where(solved <= SNAP * largest, arrays.min_rate, solved)
    finite = bool(np.all(np.isfinite(solved)))
    if finite and largest <= SNAP:
        # Every rate tiny: where nothing needs monitoring the floors are the optimum.
        yield np.asarray(arrays.min_rate, dtype=float).copy()
    if finite and not np.array_equal(snapped, solved):
        yield outward(arrays, snapped, program)
    yield outward(arrays, solved, program)  # computed only when the ones above failed
    yield solved


def _repaired(
    arrays: ProblemArrays, solved: FloatArray, program: CompiledProgram
) -> Iterator[FloatArray]:
    """Last, and only when every candidate above failed verification: the solved rates
    moved by the least-cost step that gives every near-binding row room (repair.py; rows
    held by false flags, which rounding outward opens)."""
    yield from repairs(arrays, solved, chosen_penalties(program.parts, arrays, solved))


def _at_vertex(arrays: ProblemArrays, solved: FloatArray) -> Iterator[FloatArray]:
    """Last of all, with a budget: binary64 policies at the exact vertex the solver stopped
    at (``repair.vertex_policies``). A budget exactly at the least cost leaves no room to
    round the rates outward, and the solver's point misses a binding row by 1e-17; the
    vertex, solved in Fractions and rounded to a neighbouring binary64 policy, may meet
    both exactly (issue 20)."""
    if arrays.budget is not None:
        yield from vertex_policies(arrays, solved)


#: Rates at most this fraction of the largest one are tried at their floors (_candidates).
SNAP = 1e-6


def outward(arrays: ProblemArrays, rates: FloatArray, program: CompiledProgram) -> FloatArray:
    """The solved rates rounded outward, so that binding incentive rows hold exactly.

    A solver meets a binding row only to its tolerance (a relative shortfall up to about
    1e-9 of the row's terms, or round-off, 1e-16). Raising every rate by that shortfall
    (four times over, plus OUTWARD) raises each linear row's left side by as much, which closes
    it with room to spare; rates stay within their ceilings, and the raise is dropped where
    it would break the budget (a hard limit). Verification then judges the raised policy.
    """
    penalties = chosen_penalties(program.parts, arrays, rates)
    evaluation = evaluate_policy(arrays, rates, penalties)
    dev = arrays.deviations
    margin = margin_in_utility(arrays)
    with np.errstate(invalid="ignore", divide="ignore"):
        short = (evaluation.net_incentive[dev] + margin) / evaluation.utility_scale[dev]
    short = short[np.isfinite(short)]
    shortfall = float(np.max(short, initial=0.0))
    if shortfall > REPAIRABLE:  # not round-off: the answer stands or falls as solved
        shortfall = 0.0
    raised = np.minimum(rates * (1.0 + 4.0 * shortfall + OUTWARD), arrays.max_rate)
    if arrays.budget is not None and float(arrays.cost @ raised) > arrays.budget:
        return rates
    return np.asarray(raised)


def _certificate(
    arrays: ProblemArrays,
    current: CompiledProgram,
    record: SolveRecord,
    reported: float | None = None,
) -> DualityCertificate:
    """The answer's certificate, its gap measured from ``reported`` (money: the cost of the
    policy reported, rates rounded outward) where the program is linear.

    A rescaled program is certified in its own units, where its numbers are of order one:
    the safe bound is valid there as in the model's units (the same program after a change
    of variables), and each scaled variable is charged at its full range in the model's
    units (``RescaledProgram.variable_bounds``), so a column of tiny unit cannot hide.
    """
    money = cost_scale(arrays) / current.objective_scale
    bound = variable_bound(arrays)
    return certify(
        current.problem,
        record.raw,
        GAP_TOLERANCE,
        objective_scale=money,
        variable_bound=bound,
        reported=reported,
        bounds=current.variable_bounds(bound) if isinstance(current, RescaledProgram) else None,
    )


def _with_certificate(verification: Verification, certificate: DualityCertificate) -> Verification:
    v = verification  # as dataclasses.replace(v, duality=...) builds it, without its cost
    return Verification(
        v.passed, v.tolerance, v.max_violation, v.max_relative_violation, v.checks, certificate
    )


def slack_rows(arrays: ProblemArrays, evaluation: PolicyEvaluation) -> np.ndarray:
    """Per action: its row is slack at the answer by more than ``SLACK_PRICED`` of its
    terms. Such a row has no price (complementary slackness in the model): the program's
    multiplier of it can be nonzero where its duals are degenerate (a row of the exponential
    program held by a detection variable below its cone, with a false flag variable above
    its bound: exponential_fp-85 priced a non-paying action at 0.157; exponential_fp-7, a
    vacuous row 0 >= 0 at the rate floors, priced the penalty cap in explain at 0.019)."""
    slack = -(evaluation.net_incentive + margin_in_utility(arrays))
    return np.asarray(slack > SLACK_PRICED * evaluation.utility_scale)


def _optimal(
    spec: Spec,
    arrays: ProblemArrays,
    answer: Answer,
    solver: str,
    attempts: Sequence[str],
    clock: Clock,
    numbers: _Numbers | None = None,
) -> Result:
    rates, penalties, program = answer.rates, answer.penalties, answer.program
    penalty_cost = penalty_cost_of(arrays, penalties[arrays.deviations])
    cost = arrays.cost * rates
    total = float(cost.sum())
    monitors = monitor_results(
        arrays.monitor_names, rates, arrays.cost, cost, total, arrays.min_rate, arrays.max_rate
    )
    evaluation = answer.evaluation
    if evaluation is None:
        evaluation = evaluate_policy(arrays, rates, penalties)
    if numbers is None:
        shadow = (
            answer.shadow
            if answer.shadow is not None or program is None
            else component_shadow_prices(program.parts, arrays, program.dual_of, rates)
        ) or {}
        slack = slack_rows(arrays, evaluation)
        # penalties[compliant] is the false-positive penalty, detection[compliant] P_0.
        relative = arrays.gain - arrays.gain[arrays.compliant]
        certainty = certainty_equivalent(
            relative, penalties, evaluation.detection, arrays.risk_aversion
        )
        overlapping = overlapping_inspections(arrays, rates)
    else:
        shadow, slack, certainty, overlapping = numbers
    margin = margin_in_utility(arrays)
    index = {name: i for i, name in enumerate(arrays.action_names)}
    shadow = {name: 0.0 if slack[index[name]] else p for name, p in shadow.items()}
    # Python floats, element by element the numbers the arrays hold (the same arithmetic
    # as on numpy scalars, without their per-element cost)
    detection = evaluation.detection.tolist()
    net = evaluation.net_incentive.tolist()
    scale = evaluation.utility_scale.tolist()
    chosen = penalties.tolist()
    stated = arrays.stated_gain.tolist()
    certain = certainty.tolist()
    own = certain[arrays.compliant]
    actions = []
    for i, name in enumerate(arrays.action_names):
        compliant = i == arrays.compliant
        slack = -(net[i] + margin)
        penalty = chosen[i]
        price = shadow.get(name, 0.0)
        actions.append(
            ActionResult(
                name=name,
                compliant=compliant,
                gain=stated[i],
                penalty=penalty,
                detection=detection[i],
                expected_penalty=detection[i] * penalty,
                # in the agent's money: a [horizon]'s arrays are divided by kappa
                net_incentive=(certain[i] - own) * arrays.present_value,
                # Beyond float range the slack is nan; verification judged the row in log
                # space (verify.py), and an optimal answer passed it.
                deterred=compliant
                or (
                    slack >= -tolerance_of(scale[i])
                    if math.isfinite(slack)
                    else answer.verification.passed
                ),
                binding=(not compliant) and (abs(slack) <= 1e-7 * scale[i] or price > 1e-9),
                # d cost / d gain in the agent's money: the program's gain is g / kappa; a
                # price not certified (nan) or beyond float64 is None
                shadow_price=0.0 if compliant else _price(price, arrays),
            )
        )
    compliant_name = arrays.action_names[arrays.compliant]
    return Result(
        name=spec.name,
        file=spec.source_file,
        status=Status.optimal,
        total_cost=total + penalty_cost,
        oversight_cost=total,
        penalty_cost=penalty_cost,
        penalty_design=arrays.penalty_design,
        shared_penalty=(
            float(np.max(penalties[arrays.deviations], initial=0.0))
            if arrays.penalty_design == "shared"
            else None
        ),
        monitors=monitors,
        actions=tuple(actions),
        verification=answer.verification,
        solver=solver,
        currency=spec.problem.currency,
        message="every action is deterred at least cost",
        notes=(*overlapping, *_null_notes(actions)),
        attempts=tuple(attempts),
        strategy=harm_report(spec, compliant_name, total + penalty_cost),
        timing=clock.timing(),
    )


class _Numbers(NamedTuple):
    """An optimal result's numbers as ``_optimal`` computes them for one answer: the shadow
    prices (before slack rows are zeroed), the slack rows, the certainty equivalents and the
    notes on overlapping inspections."""

    shadow: dict[str, float]
    slack: np.ndarray
    certainty: FloatArray
    overlapping: tuple[str, ...]


def optimal_results(
    items: Sequence[tuple[Spec, ProblemArrays, Answer, str, Sequence[str], Clock]],
) -> list[Result]:
    """:func:`optimal_result` of many answers (a stack's blocks): the numbers of the
    answers of the plain linear program (``verify_stack.takes``, prices read from the
    ``Deterrence`` rows' duals) computed together, element by element as one by one
    (``_many_numbers``); then each result assembled."""
    numbers = _many_numbers([(arrays, answer) for _, arrays, answer, *_ in items])
    return [
        _optimal(spec, arrays, answer, solver, attempts, clock, found)
        for (spec, arrays, answer, solver, attempts, clock), found in zip(
            items, numbers, strict=True
        )
    ]


def _priced_by_rows(answer: Answer) -> FloatArray | None:
    """The incentive rows' duals when the answer's shadow prices are the ``Deterrence``
    component's (the first part that prices, as ``component_shadow_prices`` reads them)."""
    program = answer.program
    if answer.shadow is not None or program is None or answer.evaluation is None:
        return None
    for part, handles in program.parts:
        owner = type(part).shadow_prices
        if owner is Deterrence.shadow_prices:
            dual = program.dual_of(handles.incentive)  # type: ignore[attr-defined]
            return None if dual is None else np.asarray(dual, dtype=float)
        if owner is not Component.shadow_prices:
            return None
    return None


def _many_numbers(pairs: Sequence[tuple[ProblemArrays, Answer]]) -> list[_Numbers | None]:
    """``_Numbers`` of every answer of the plain linear program priced by its rows, all
    together (the same operations as ``incentive_shadow_prices``, ``slack_rows``,
    ``certainty_equivalent`` and ``overlapping_inspections``, element by element, each
    element with its member's numbers); None for the others (computed one by one)."""
    found: list[_Numbers | None] = [None] * len(pairs)
    duals = [_priced_by_rows(answer) if takes(arrays) else None for arrays, answer in pairs]
    chosen = [k for k, dual in enumerate(duals) if dual is not None]
    owned = [dual for dual in duals if dual is not None]
    if not chosen:
        return found
    members = [pairs[k][0] for k in chosen]
    answers = [pairs[k][1] for k in chosen]
    ragged = Ragged.of(members)
    on_action, on_dev = ragged.action_of, ragged.dev_of
    rates = np.concatenate([a.rates for a in answers])
    penalties = np.concatenate([a.penalties for a in answers])
    evaluations = [a.evaluation for a in answers]
    detection = np.concatenate([e.detection for e in evaluations])  # type: ignore[union-attr]
    net = np.concatenate([e.net_incentive for e in evaluations])  # type: ignore[union-attr]
    scale = np.concatenate([e.utility_scale for e in evaluations])  # type: ignore[union-attr]
    r = np.array([a.risk_aversion for a in members])
    relative = np.concatenate([a.gain - a.gain[a.compliant] for a in members])
    margin = np.array([margin_in_utility(a) for a in members])
    slack = -(net + margin[on_action]) > SLACK_PRICED * scale
    ra = r[on_action]
    p = np.clip(detection, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        free = np.where(p < 1, np.log1p(-p) - ra * relative, -np.inf)
        caught = np.where(
            p > 0, np.log(np.where(p > 0, p, 1.0)) - ra * (relative - penalties), -np.inf
        )
        certainty = np.where(ra == 0, relative - p * penalties, -np.logaddexp(free, caught) / ra)
    # shadow prices, per deviation
    dual = np.concatenate([np.maximum(np.atleast_1d(d), 0.0) for d in owned])
    row_scale = np.concatenate([incentive_rows(a).row_scale for a in members])
    rd = r[on_dev]
    gain = np.concatenate([a.gain[a.deviations] - a.gain[a.compliant] for a in members])
    caps = np.concatenate([a.penalty_cap[a.deviations] for a in members])
    pd = detection[ragged.dev]
    money = np.array([cost_scale(a) for a in members])[on_dev]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        marginal = np.where(pd < 1, (1 - pd) * np.exp(-rd * gain), 0.0) + np.where(
            pd > 0, pd * np.exp(-rd * (gain - caps)), 0.0
        )
        multiplier = money * dual / row_scale
        prices = multiplier * marginal
    prices = np.where(multiplier == 0, 0.0, np.where(np.isfinite(prices), prices, np.nan))
    # coverage of each action by the monitors that detect it (overlapping_inspections)
    q = ragged.detection
    entries = np.repeat(np.arange(q.shape[0]), np.diff(q.indptr))
    weights = np.where(q.data > 0, rates[q.indices], 0.0)
    coverage = np.bincount(entries, weights=weights, minlength=q.shape[0])[ragged.dev]
    over = coverage > 1 + 1e-9
    for j, k in enumerate(chosen):
        arrays = members[j]
        a0, d0 = int(ragged.action_start[j]), int(ragged.dev_start[j])
        acts, devs = slice(a0, a0 + len(arrays.gain)), slice(d0, d0 + len(arrays.deviations))
        names = arrays.action_names
        mine = prices[devs].tolist()
        found[k] = _Numbers(
            {names[i]: mine[m] for m, i in enumerate(arrays.deviations.tolist())},
            slack[acts],
            certainty[acts],
            overlap_notes(arrays, coverage[devs]) if over[devs].any() else (),
        )
    return found


def _price(shadow: float, arrays: ProblemArrays) -> float | None:
    """An action's shadow price in the agent's money, or None where there is no finite one
    (not certified, or beyond float64): JSON writes null either way, and a result read back
    from JSON (a batch ledger) must equal the one solved."""
    price = shadow / arrays.present_value
    return float(price) if np.isfinite(price) else None


def _null_notes(actions: Sequence[ActionResult]) -> tuple[str, ...]:
    """Why a number of an optimal answer is null in JSON: it is beyond float64's range."""
    names = [a.name for a in actions if a.shadow_price is None or not np.isfinite(a.shadow_price)]
    if not names:
        return ()
    return (
        f"shadow price of {', '.join(names)}: null, beyond float64's range (the row's "
        "multiplier or the agent's marginal utility overflows)",
    )


def tolerance_of(scale: float) -> float:
    return TOLERANCE * max(1.0, float(scale))


def proven_infeasible(
    spec: Spec, arrays: ProblemArrays, solver: str, clock: Clock
) -> Result | None:
    """An infeasible result with its diagnosis, or None when infeasibility is not proven.

    A solver's "infeasible" is a claim at its own tolerances (and often in rescaled units);
    it stands only with a certificate checked in the model's units (``infeasibility.py``:
    Farkas multipliers checked in exact arithmetic). Without one the next attempt runs, and
    when none is left the status is ``solver_error``.
    """
    from .infeasibility import certify_infeasible

    return infeasible_result(spec, arrays, certify_infeasible(arrays), solver, clock)


def infeasible_result(
    spec: Spec,
    arrays: ProblemArrays,
    certificate: Certificate | None,
    solver: str,
    clock: Clock,
    *,
    attempts: Sequence[str] = (),
    least_cost_of: Callable[[ProblemArrays], float | None] | None = None,
) -> Result | None:
    """The infeasible result that a checked ``certificate`` proves, with its diagnosis
    (for a spec solved alone and for a block of a stack, whose certificate comes from its
    phase-one duals), or None without one.

    With a budget, the diagnosis names the least cost of full deterrence without it
    (``least_cost_of(arrays)``: by default a solve of ``without_budget``); a verified
    policy within the budget means the certificate is wrong, and nothing is claimed.
    """
    if certificate is None:
        return None
    least_cost = None
    if arrays.budget is not None and certificate.least_cost_bound is not None:
        least_cost = (least_cost_of or least_cost_without_budget)(arrays)
        if least_cost is not None and least_cost <= arrays.budget:
            return None  # a verified policy within the budget: the certificate is wrong
        if least_cost is None:
            least_cost = certificate.least_cost_bound
    diagnosis = diagnose(arrays, least_cost, proof=certificate)
    return unsolved(
        spec,
        Status.infeasible,
        diagnosis.reason,
        attempts,
        clock,
        solver=solver,
        diagnosis=diagnosis,
    )


def least_cost_without_budget(arrays: ProblemArrays) -> float | None:
    """The least oversight cost of full deterrence with the budget lifted (``diagnose``)."""
    return solve_arrays_cost(without_budget(arrays))


def solve_arrays_cost(arrays: ProblemArrays) -> float | None:
    """The oversight cost of a verified and certified least-cost policy for ``arrays`` (as
    any answer of the core program is judged), or None if no attempt gave one."""
    if flag_search.applies(arrays):  # the global search's least cost, when it is proven
        found = flag_search.search(arrays)
        return found.best.cost if found.best is not None and found.closed else None
    program = program_for(arrays)

    def judge(current: CompiledProgram, attempt: Attempt, record: SolveRecord) -> Verdict[float]:
        verdict = judge_core(arrays, current, record, TOLERANCE)
        if verdict.answer is None:
            return Verdict.reject(verdict.failure)
        return Verdict.accept(float(arrays.cost @ verdict.answer.rates), verdict.proof)

    def program_for_attempt(attempt: Attempt) -> CompiledProgram:
        return Rescaling.apply(arrays) if attempt.scaled else program

    # e.g. HiGHS status UNKNOWN on a denormal penalty cap (fuzz corpus): the next solver
    outcome = run(attempt_plan(SOLVER_ORDER), program_for_attempt, judge)
    return outcome.answer


def optimal_result(
    spec: Spec,
    arrays: ProblemArrays,
    answer: Answer,
    solver: str,
    attempts: Sequence[str],
    clock: Clock,
) -> Result:
    """The optimal result of a verified and certified ``answer`` (for the stacked solves of
    ``stacked.py``, which judge each block themselves and build the same result)."""
    return _optimal(spec, arrays, answer, solver, attempts, clock)
