"""Solving a spec: arrays, compiled program, solvers in turn, verification, result.

An answer is reported as optimal only when deter's own check of the model's constraints
passes at the returned rates (``verify.py``); otherwise the next solver is tried, and when
none passes the status is ``solver_error`` with the measured violation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cvxpy as cp
import numpy as np

from ..formulation.components.detection import overlapping_inspections
from ..formulation.components.deterrence import incentive_rows
from ..formulation.components.monitoring import cost_scale
from ..formulation.components.penalty import chosen_penalties, component_shadow_prices
from ..formulation.program import SOLVER_ORDER, CompiledProgram, program_for, value_of
from ..formulation.scaling import restore_duals, scaled_program
from ..model.arrays import ProblemArrays
from ..model.penalties import penalty_cost_of
from ..model.utility import FloatArray, marginal_utility
from ..results.result import ActionResult, MonitorResult, Result, Verification, rate_bound
from ..spec.document import Spec
from ..spec.strategy import uses_strategy
from .diagnose import diagnose, without_budget
from .retry import attempt_plan, certified
from .verify import TOLERANCE, evaluate_policy, margin_in_utility, verify_policy

_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE,)


def solve(
    spec: Spec, *, solvers: Sequence[str] = SOLVER_ORDER, tolerance: float = TOLERANCE
) -> Result:
    """The least-cost oversight policy that deters every non-compliant action.

    Returns a :class:`Result` whose status is ``optimal``, ``infeasible`` (with a
    diagnosis) or ``solver_error``; call ``raise_for_status()`` for exceptions instead.
    """
    if uses_strategy(spec):  # min_loss, types, fixed costs, auditor: solver/min_loss.py
        from .strategic import solve_strategic

        return solve_strategic(spec, solvers=solvers, tolerance=tolerance)
    started = time.perf_counter()
    arrays = ProblemArrays.from_spec(spec)
    timing: dict[str, float] = {}
    program = program_for(arrays)
    timing["build"] = time.perf_counter() - started
    attempts: list[str] = []
    # Each solver, then each on the rescaled program with tight tolerances (retry.py).
    for attempt in attempt_plan(solvers, linear=program.linear):
        solver = attempt.label
        began = time.perf_counter()
        try:
            current = scaled_program(arrays) if attempt.scaled else program
            status = current.solve(attempt.solver, **attempt.options)
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            attempts.append(f"{solver}: failed ({exc})")
            continue
        finally:
            timing["solve"] = timing.get("solve", 0.0) + time.perf_counter() - began
        if status in _INFEASIBLE:
            result = _infeasible(spec, arrays, solver, attempts, timing)
            if result is not None:
                return _finish(result, started)
            attempts.append(
                f"{solver}: reported infeasible, but every action is deterrable within the limits"
            )
            continue
        if status not in _SOLVED:
            attempts.append(f"{solver}: status {status}")
            continue
        rates = np.clip(
            value_of(current.context.rates, arrays.n_monitors), arrays.min_rate, arrays.max_rate
        )
        penalties = chosen_penalties(current.components, arrays, rates)
        total_cost = float(arrays.cost @ rates) + penalty_cost_of(
            arrays, penalties[arrays.deviations]
        )
        verification = verify_policy(arrays, rates, total_cost, tolerance, penalties=penalties)
        if verification.passed:
            verification = certified(verification, current, arrays)
        if verification.passed:
            certificate = verification.duality
            proof = "verified and certified" if certificate and certificate.applies else "verified"
            attempts.append(f"{solver}: {status}, {proof}")
            restore_duals(current)
            result = _optimal(
                spec,
                arrays,
                current,
                rates,
                verification,
                solver,
                attempts,
                timing,
                penalties=penalties,
            )
            if any(a.harm for a in spec.actions):  # harms under deter_all (issue 5)
                from .strategic import with_harm_report

                result = with_harm_report(spec, result)
            return _finish(result, started)
        attempts.append(f"{solver}: {status}, but {_failure(verification, tolerance)}")
    return _finish(
        Result(
            name=spec.name,
            file=spec.source_file,
            status="solver_error",
            total_cost=None,
            monitors=(),
            actions=(),
            verification=None,
            solver=None,
            currency=spec.problem.currency,
            message="no solver produced a verified answer: " + "; ".join(attempts),
            attempts=tuple(attempts),
            timing=timing,
        ),
        started,
    )


def _failure(verification: Verification, tolerance: float) -> str:
    if verification.max_relative_violation > tolerance or verification.duality is None:
        return (
            f"failed verification (max relative violation "
            f"{verification.max_relative_violation:.3g} > {tolerance:g})"
        )
    return f"failed its duality certificate ({verification.duality.reason})"


def _finish(result: Result, started: float) -> Result:
    result.timing["total"] = time.perf_counter() - started
    return result


def _optimal(
    spec: Spec,
    arrays: ProblemArrays,
    program: CompiledProgram,
    rates: FloatArray,
    verification: Verification,
    solver: str,
    attempts: list[str],
    timing: dict[str, float],
    penalties: FloatArray | None = None,
) -> Result:
    if penalties is None:
        penalties = chosen_penalties(program.components, arrays, rates)
    penalty_cost = penalty_cost_of(arrays, penalties[arrays.deviations])
    cost = arrays.cost * rates
    total = float(cost.sum())
    monitors = tuple(
        MonitorResult(
            name=name,
            rate=float(rates[j]),
            unit_cost=float(arrays.cost[j]),
            cost=float(cost[j]),
            share=float(cost[j] / total) if total > 0 else 0.0,
            min_rate=float(arrays.min_rate[j]),
            max_rate=float(arrays.max_rate[j]),
            at_bound=rate_bound(rates[j], arrays.min_rate[j], arrays.max_rate[j]),
        )
        for j, name in enumerate(arrays.monitor_names)
    )
    evaluation = evaluate_policy(arrays, rates, penalties)
    shadow = component_shadow_prices(program.components, arrays)
    if shadow is None:
        shadow = _shadow_prices(arrays, program, evaluation.detection)
    margin = margin_in_utility(arrays)
    r = arrays.risk_aversion
    certainty = _certainty_equivalent(evaluation.expected_utility, r)
    actions = []
    for i, name in enumerate(arrays.action_names):
        compliant = i == arrays.compliant
        slack = -(evaluation.net_incentive[i] + margin)
        penalty = float(penalties[i])
        actions.append(
            ActionResult(
                name=name,
                compliant=compliant,
                gain=float(arrays.gain[i]),
                penalty=penalty,
                detection=float(evaluation.detection[i]),
                expected_penalty=float(evaluation.detection[i] * penalty),
                net_incentive=float(certainty[i] - certainty[arrays.compliant]),
                deterred=compliant or bool(slack >= -tolerance_of(evaluation.utility_scale[i])),
                binding=(not compliant)
                and bool(
                    abs(slack) <= 1e-7 * evaluation.utility_scale[i] or shadow.get(name, 0.0) > 1e-9
                ),
                shadow_price=0.0 if compliant else shadow.get(name, 0.0),
            )
        )
    return Result(
        name=spec.name,
        file=spec.source_file,
        status="optimal",
        total_cost=total + penalty_cost,
        oversight_cost=total,
        penalty_cost=penalty_cost,
        penalty_design=arrays.penalty_design,
        shared_penalty=(
            float(np.max(penalties[arrays.deviations]))
            if arrays.penalty_design == "shared"
            else None
        ),
        monitors=monitors,
        actions=tuple(actions),
        verification=verification,
        solver=solver,
        currency=spec.problem.currency,
        message="every action is deterred at least cost",
        notes=overlapping_inspections(arrays, rates),
        attempts=tuple(attempts),
        timing=timing,
    )


def tolerance_of(scale: float) -> float:
    return TOLERANCE * max(1.0, float(scale))


def _certainty_equivalent(expected: FloatArray, r: float) -> FloatArray:
    """u^{-1}(EU): the sure money an agent values a risky outcome at (relative wealth)."""
    if r == 0:
        return expected
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(-np.log1p(-r * expected) / r)


def _shadow_prices(
    arrays: ProblemArrays, program: CompiledProgram, detection: FloatArray
) -> dict[str, float]:
    """d(least oversight cost) / d(g_i), from the dual of each incentive row.

    The program's row i is the model's row divided by d_i (its ``row_scale``) with the
    objective divided by the largest cost, so the model's multiplier is
    lambda_i = scale * dual_i / d_i; and d/dg_i of (k_i - d_i P_i) is
    (1 - P_i) u'(g_i) + P_i u'(g_i - F_i), the agent's expected marginal utility.
    """
    dual = program.context.constraints["incentive"].dual_value
    if dual is None:
        return {}
    dual = np.maximum(np.atleast_1d(np.asarray(dual, dtype=float)), 0.0)
    rows = incentive_rows(arrays)
    dev = arrays.deviations
    r = arrays.risk_aversion
    relative = arrays.gain[dev] - arrays.gain[arrays.compliant]
    p = detection[dev]
    expected_marginal = (1 - p) * marginal_utility(relative, r) + p * marginal_utility(
        relative - arrays.penalty_cap[dev], r
    )
    multiplier = cost_scale(arrays) * dual / rows.row_scale
    with np.errstate(invalid="ignore", over="ignore"):  # CARA beyond exp's range: nan -> null
        prices = multiplier * expected_marginal
    return {arrays.action_names[i]: float(prices[k]) for k, i in enumerate(dev)}


def _infeasible(
    spec: Spec,
    arrays: ProblemArrays,
    solver: str,
    attempts: list[str],
    timing: dict[str, float],
) -> Result | None:
    """An infeasible result with its diagnosis, or None if the diagnosis contradicts it."""
    least_cost = None
    if arrays.budget is not None:
        least_cost = solve_arrays_cost(without_budget(arrays))
    diagnosis = diagnose(arrays, least_cost)
    blocked = any(not a.deterrable for a in diagnosis.actions)
    over_budget = (
        least_cost is not None and arrays.budget is not None and (least_cost > arrays.budget)
    )
    if not blocked and not over_budget and rows_independent(arrays):
        # With no false-positive penalty, every action deterrable at the rate ceilings
        # means the ceilings themselves are a feasible policy: the solver was wrong.
        return None
    attempts.append(f"{solver}: infeasible")
    return Result(
        name=spec.name,
        file=spec.source_file,
        status="infeasible",
        total_cost=None,
        monitors=(),
        actions=(),
        verification=None,
        solver=solver,
        currency=spec.problem.currency,
        message=diagnosis.reason,
        diagnosis=diagnosis,
        attempts=tuple(attempts),
        timing=timing,
    )


def rows_independent(arrays: ProblemArrays) -> bool:
    """True when raising every rate never hurts deterrence (no false-positive penalty)."""
    return arrays.false_positive_penalty == 0 or not np.any(arrays.false_positive > 0)


def solve_arrays_cost(arrays: ProblemArrays) -> float | None:
    """The least oversight cost for ``arrays``, or None if even that is infeasible."""
    program = program_for(arrays)
    for solver in SOLVER_ORDER:
        try:
            status = program.solve(solver)
        except (cp.error.SolverError, ValueError, ArithmeticError):
            continue  # e.g. HiGHS status UNKNOWN on a denormal penalty cap (fuzz corpus)
        if status in _SOLVED:
            rates = np.clip(
                value_of(program.context.rates, arrays.n_monitors), arrays.min_rate, arrays.max_rate
            )
            return float(arrays.cost @ rates)
        if status in _INFEASIBLE:
            return None
    return None
