"""Harms and optimal (partial) deterrence; also the solve path of types and fixed costs.

Becker (1968, "Crime and punishment: an economic approach", J. Political Economy 76(2))
observed that when enforcement is costly the optimal number of offences is not zero: the
principal minimises oversight cost plus the harm that is left. With harm h_a of the action
the agent takes,

    min_{x, a}  sum_j c_j x_j (+ fixed costs)  +  h_a
    s.t.        a is a best response of the agent to x (ties to the principal).

For a fixed a the constraint is linear (``agent_types.py``: a against every other action i,
misaligned ones included, which is marginal deterrence), so the problem is solved exactly
by one linear program per candidate a, keeping the best: the multiple-LPs method of
Conitzer & Sandholm, "Computing the optimal strategy to commit to" (EC 2006). Every
candidate's optimum is a feasible commitment and every commitment induces some a, so the
best of the candidates is the optimum. With a budget, the same search gives the least harm
(plus cost) the budget can buy. With several agent types the assignment of actions to
types is chosen by the DOBSS mixed-integer program instead (``agent_types.py``).

deter_all (the default objective) is the assignment "every type complies", so specs with
types or fixed deployment costs but no harms solve through here too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cvxpy as cp
import numpy as np

from ..formulation.commitment import (
    BASE_TYPE,
    CommitmentProgram,
    StrategicArrays,
    build_commitment_program,
)
from ..formulation.program import SOLVER_ORDER, quiet_native_output
from ..model.utility import FloatArray, marginal_utility
from ..results.result import (
    ActionResult,
    DualityCertificate,
    MonitorResult,
    Result,
    Verification,
    rate_bound,
)
from ..results.strategy import StrategyReport, TypeOutcome
from ..spec.document import Spec
from .diagnose import diagnose
from .verify import TOLERANCE, evaluate_policy
from .verify_commitment import type_view, verify_commitment

_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
#: Solvers that accept boolean variables (the others are skipped for mixed-integer programs).
_INTEGER_SOLVERS = ("HIGHS",)
#: HiGHS stops a mixed-integer search within 1e-4 of its bound and accepts rows violated by
#: 1e-6 by default; losses and incentive rows here can be that small (a gain of 1e-5 left
#: undeterred or not), so the search must close the gap and respect rows tightly.
_EXACT_MIP = {
    "mip_rel_gap": 1e-12,
    "mip_abs_gap": 1e-14,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
}


@dataclass
class Commitment:
    """The verified outcome of one commitment program (or why there is none)."""

    status: str  # "optimal" | "infeasible" | "solver_error"
    rates: FloatArray | None = None
    deployed: FloatArray | None = None
    induced: tuple[int, ...] = ()
    cost: float = float("nan")  # oversight cost, fixed costs included
    harm: float = float("nan")
    verification: Verification | None = None
    solver: str | None = None
    attempts: list[str] = field(default_factory=list)
    shadow: dict[str, float] | None = None  # d(oversight cost)/d(gain), where an LP gives it

    @property
    def loss(self) -> float:
        return self.cost + self.harm


def solve_commitment(
    data: StrategicArrays,
    assignment: Sequence[int] | None,
    *,
    budget: bool = True,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
) -> Commitment:
    """Solve one commitment program and verify its answer (see ``verify_strategy.py``)."""
    program = build_commitment_program(data, assignment, budget=budget)
    integer = program.problem.is_mixed_integer()
    attempts: list[str] = []
    infeasible = False
    for solver in solvers:
        if integer and solver not in _INTEGER_SOLVERS:
            attempts.append(f"{solver}: skipped (cannot solve mixed-integer programs)")
            continue
        try:
            options = _EXACT_MIP if integer else {}
            with quiet_native_output():
                program.problem.solve(solver=solver, verbose=False, warm_start=False, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            attempts.append(f"{solver}: failed ({exc})")
            continue
        status = str(program.problem.status)
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            attempts.append(f"{solver}: infeasible")
            infeasible = True
            break
        if status not in _SOLVED:
            attempts.append(f"{solver}: status {status}")
            continue
        outcome = _read(data, program, budget, tolerance)
        if outcome.verification is not None and outcome.verification.passed:
            attempts.append(f"{solver}: {status}, verified")
            outcome.solver, outcome.attempts = solver, attempts
            return outcome
        worst = outcome.verification.max_relative_violation if outcome.verification else None
        attempts.append(f"{solver}: {status}, but failed verification ({worst})")
    return Commitment("infeasible" if infeasible else "solver_error", attempts=attempts)


def _read(
    data: StrategicArrays, program: CommitmentProgram, budget: bool, tolerance: float
) -> Commitment:
    base = data.base
    value = program.rates.value
    if value is None:
        return Commitment("solver_error")
    rates = np.clip(np.asarray(value, dtype=float), base.min_rate, base.max_rate)
    deployed = program.deployment.values()
    # A monitor switched off runs at rate 0; one deployed at rate 0 need not pay (and an
    # optimal solver never does so, unless its fixed cost is 0).
    rates = np.where(deployed > 0.5, rates, 0.0)
    deployed = np.where(
        (rates <= 1e-9) & (base.min_rate <= 0) & (data.fixed_cost > 0), 0.0, deployed
    )
    induced = program.induced()
    cost = float(base.cost @ rates + data.fixed_cost @ (deployed > 0.5))
    harm = float(data.weight @ data.harm[list(induced)])
    checked = data if budget else _without_budget(data)
    verification = verify_commitment(checked, rates, deployed, induced, cost, harm, tolerance)
    # Optimality rests on the exact enumeration (candidate LPs, or branch and bound), not on
    # one LP's duals; say so rather than leave the certificate out.
    verification = replace(
        verification,
        duality=DualityCertificate(
            applies=False,
            passed=True,
            tolerance=tolerance,
            reason="strategic solve (harms, types or fixed costs): optimal over the enumerated "
            "induced actions or by branch and bound; feasibility check only",
        ),
    )
    outcome = Commitment("optimal", rates, deployed, induced, cost, harm, verification)
    outcome.shadow = _shadow_prices(data, program, rates)
    return outcome


def _shadow_prices(
    data: StrategicArrays, program: CommitmentProgram, rates: FloatArray
) -> dict[str, float] | None:
    """d(least oversight cost)/d(g_j) with the induced action held, from the rows' duals.

    Only where the program is one linear program for one agent with point gains (no
    binaries, whose programs have no duals; types and intervals have no single gain g_j).
    Row t = (a, i) is EU_a - EU_i - margin >= 0 divided by s_t, the objective divided by
    ``scale``, so by the envelope theorem
    d/dg_j = scale sum_t lambda_t / s_t ([i_t = j] - [a_t = j]) EU'_j with
    EU'_j = (1 - P_j) u'(g_j) + P_j u'(g_j - F_j), as in the core solver's ``_shadow_prices``.
    The compliant action's entry is 0, as there.
    """
    base = data.base
    if (
        program.incentive is None
        or program.pairs is None
        or program.row_scale is None
        or data.typed
        or not np.array_equal(data.gain_low, data.gain_high)
        or program.problem.is_mixed_integer()
    ):
        return None
    dual = program.incentive.dual_value
    if dual is None:
        return None
    weight = np.maximum(np.atleast_1d(np.asarray(dual, dtype=float)), 0.0) / program.row_scale
    c = base.compliant
    r = float(data.risk_aversion[0])
    relative = data.gain_low[0] - data.gain_low[0, c]
    penalty = base.penalty_cap.copy()
    penalty[c] = base.false_positive_penalty
    p = type_view(data, rates).detection
    marginal = (1 - p) * marginal_utility(relative, r) + p * marginal_utility(relative - penalty, r)
    n = base.n_actions
    pulls = np.bincount(program.pairs[:, 2], weights=weight, minlength=n) - np.bincount(
        program.pairs[:, 1], weights=weight, minlength=n
    )
    with np.errstate(invalid="ignore", over="ignore"):
        prices = program.scale * pulls * marginal
    prices[c] = 0.0
    return {name: float(prices[j]) for j, name in enumerate(base.action_names)}


def _without_budget(data: StrategicArrays) -> StrategicArrays:
    return replace(data, base=replace(data.base, budget=None))


def solve_dobss(
    data: StrategicArrays,
    *,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
) -> Commitment:
    """The DOBSS program, then its assignment re-solved as a fixed-assignment program.

    Branch and bound accepts binaries within an integrality tolerance, and through the big-M
    terms that can leave an incentive row violated by about M times it; re-solving with the
    chosen assignment fixed makes every row exact (the polish cannot raise the loss beyond
    the MIP's own tolerance, since the MIP's rates were nearly feasible for it).
    """
    found = solve_commitment(data, None, solvers=solvers, tolerance=float("inf"))
    if found.status != "optimal":
        return found
    polished = solve_commitment(data, found.induced, solvers=solvers, tolerance=tolerance)
    polished.attempts = [f"DOBSS: {line}" for line in found.attempts] + [
        f"polish: {line}" for line in polished.attempts
    ]
    if polished.status != "optimal":  # the MIP's tolerance hid an infeasible assignment
        return Commitment("solver_error", attempts=polished.attempts)
    return polished


def best_commitment(
    data: StrategicArrays,
    objective: str,
    *,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
) -> Commitment:
    """The principal's optimal commitment under ``objective`` (deter_all or min_loss)."""
    c = data.base.compliant
    everyone_complies = (c,) * data.n_types
    if objective == "deter_all":
        return solve_commitment(data, everyone_complies, solvers=solvers, tolerance=tolerance)
    if data.n_types > 1:
        return solve_dobss(data, solvers=solvers, tolerance=tolerance)
    # One LP per candidate induced action; compliance first so that it wins ties.
    order = [c] + [a for a in range(data.base.n_actions) if a != c]
    best: Commitment | None = None
    attempts: list[str] = []
    failed = False
    for a in order:
        outcome = solve_commitment(data, (a,), solvers=solvers, tolerance=tolerance)
        name = data.base.action_names[a]
        attempts += [f"induce {name}: {line}" for line in outcome.attempts]
        if outcome.status == "solver_error":
            failed = True
            continue
        if outcome.status != "optimal":
            continue
        if best is None or outcome.loss < best.loss - 1e-9 * max(1.0, abs(best.loss)):
            best = outcome
    if best is None:
        return Commitment("solver_error" if failed else "infeasible", attempts=attempts)
    if failed:
        # A candidate without a verified answer might have been better: no optimum claimed.
        return Commitment("solver_error", attempts=attempts)
    best.attempts = attempts
    return best


def solve_strategic(
    spec: Spec, *, solvers: Sequence[str] = SOLVER_ORDER, tolerance: float = TOLERANCE
) -> Result:
    """Solve a spec with harms (min_loss), types or fixed deployment costs."""
    started = time.perf_counter()
    data = StrategicArrays.from_spec(spec)
    objective = spec.oversight.objective
    chosen = best_commitment(data, objective, solvers=solvers, tolerance=tolerance)
    timing = {"solve": time.perf_counter() - started}
    c = data.base.compliant
    full = chosen if objective == "deter_all" and chosen.status == "optimal" else None
    if full is None:
        full = solve_commitment(
            data, (c,) * data.n_types, budget=False, solvers=solvers, tolerance=tolerance
        )
    full_cost = full.cost if full.status == "optimal" else None
    result = _result(spec, data, chosen, objective, full_cost)
    if spec.auditor is not None and result.strategy is not None:
        from .auditor import auditor_report

        result = replace(result, strategy=replace(result.strategy, auditor=auditor_report(spec)))
    timing["total"] = time.perf_counter() - started
    result.timing.update(timing)
    return result


def with_harm_report(spec: Spec, result: Result) -> Result:
    """Attach the strategy report to a core (deter_all) answer of a spec that gives harms.

    Such a spec solves through the core solver (its duality certificate and shadow prices
    stay); under full deterrence the agent complies, so the harm left is the compliant
    action's harm (normally 0), the expected loss is the oversight cost plus that, and full
    deterrence costs what was paid.
    """
    harms = [a.harm for a in spec.actions]
    if result.status != "optimal" or result.total_cost is None or not any(harms):
        return result
    compliant = next(a for a in result.actions if a.compliant)
    harm = float(harms[[a.name for a in spec.actions].index(compliant.name)])
    report = StrategyReport(
        objective="deter_all",
        induced_action=compliant.name,
        types=(TypeOutcome(name=BASE_TYPE, weight=1.0, induced_action=compliant.name, harm=harm),),
        harm_left=harm,
        expected_loss=result.total_cost + harm,
        full_deterrence_cost=result.total_cost,
    )
    return replace(result, strategy=report)


def _result(
    spec: Spec,
    data: StrategicArrays,
    chosen: Commitment,
    objective: str,
    full_cost: float | None,
) -> Result:
    base = data.base
    common: dict[str, Any] = {
        "name": spec.name,
        "file": spec.source_file,
        "currency": spec.problem.currency,
        "attempts": tuple(chosen.attempts),
    }
    if chosen.status != "optimal" or chosen.rates is None or chosen.deployed is None:
        return _not_met(spec, data, chosen, objective, full_cost, common)
    rates, deployed = chosen.rates, chosen.deployed
    variable = base.cost * rates
    fixed = data.fixed_cost * (deployed > 0.5)
    total = chosen.cost
    monitors = tuple(
        MonitorResult(
            name=name,
            rate=float(rates[j]),
            unit_cost=float(base.cost[j]),
            cost=float(variable[j] + fixed[j]),
            share=float((variable[j] + fixed[j]) / total) if total > 0 else 0.0,
            min_rate=float(base.min_rate[j]),
            max_rate=float(base.max_rate[j]),
            at_bound=rate_bound(float(rates[j]), float(base.min_rate[j]), float(base.max_rate[j])),
            deployed=bool(deployed[j] > 0.5 and (rates[j] > 1e-9 or data.fixed_cost[j] > 0)),
            fixed_cost=float(data.fixed_cost[j]),
        )
        for j, name in enumerate(base.monitor_names)
    )
    taken = set(chosen.induced)
    evaluation = evaluate_policy(base, rates)
    view = type_view(data, rates)
    scale = max(1.0, float(np.abs(view.high).max()))
    actions = []
    for i, name in enumerate(base.action_names):
        compliant = i == base.compliant
        penalty = base.false_positive_penalty if compliant else float(base.penalty_cap[i])
        # Binding: some type is indifferent between its induced action and this one.
        slack = [
            view.low[k, a] - view.high[k, i] - view.margin[k]
            for k, a in enumerate(chosen.induced)
            if a != i
        ]
        actions.append(
            ActionResult(
                name=name,
                compliant=compliant,
                gain=float(base.gain[i]),
                penalty=penalty,
                detection=float(evaluation.detection[i]),
                expected_penalty=float(evaluation.detection[i] * penalty),
                net_incentive=float(evaluation.net_incentive[i]),
                deterred=compliant or i not in taken,
                binding=bool(slack) and bool(min(slack) <= 1e-7 * scale),
                shadow_price=None if chosen.shadow is None else chosen.shadow[name],
            )
        )
    types = tuple(
        TypeOutcome(
            name=data.type_names[k],
            weight=float(data.weight[k]),
            induced_action=base.action_names[a],
            harm=float(data.harm[a]),
        )
        for k, a in enumerate(chosen.induced)
    )
    names = {t.induced_action for t in types}
    induced_action = names.pop() if len(names) == 1 else None
    report = StrategyReport(
        objective=objective,
        induced_action=induced_action,
        types=types,
        harm_left=chosen.harm,
        expected_loss=chosen.loss,
        full_deterrence_cost=full_cost,
    )
    return Result(
        status="optimal",
        total_cost=total,
        monitors=monitors,
        actions=tuple(actions),
        verification=chosen.verification,
        solver=chosen.solver,
        message=_message(data, chosen, objective, full_cost),
        strategy=report,
        **common,
    )


def _message(
    data: StrategicArrays, chosen: Commitment, objective: str, full_cost: float | None
) -> str:
    names = data.base.action_names
    if objective == "deter_all":
        who = "every type" if data.typed else "the agent"
        return f"every action is deterred at least cost ({who} complies)"
    if data.typed:
        taken = ", ".join(f"{data.type_names[k]}: {names[a]}" for k, a in enumerate(chosen.induced))
        what = f"each type takes its best response ({taken})"
    else:
        what = f"the agent takes {names[chosen.induced[0]]!r}"
    full = "impossible" if full_cost is None else f"{full_cost:.6g}"
    return (
        f"least expected loss: {what}; harm left {chosen.harm:.6g}, expected loss "
        f"{chosen.loss:.6g} (full deterrence would cost {full})"
    )


def _not_met(
    spec: Spec,
    data: StrategicArrays,
    chosen: Commitment,
    objective: str,
    full_cost: float | None,
    common: dict[str, Any],
) -> Result:
    diagnosis = None
    if chosen.status == "infeasible":
        if objective == "deter_all" and not data.typed:
            diagnosis = diagnose(data.base, full_cost)
            reason = diagnosis.reason
        elif objective == "deter_all":
            reason = "no allowed policy deters every type of agent"
            if full_cost is not None and data.base.budget is not None:
                reason += f" within the budget (full deterrence needs {full_cost:.6g})"
        else:
            reason = "no allowed policy meets the constraints (rate floors, budget, margin)"
        message = reason
    else:
        message = "no solver produced a verified answer: " + "; ".join(chosen.attempts)
    return Result(
        status="infeasible" if chosen.status == "infeasible" else "solver_error",
        total_cost=None,
        monitors=(),
        actions=(),
        verification=None,
        solver=None,
        message=message,
        diagnosis=diagnosis,
        strategy=None,
        **common,
    )


__all__ = [
    "Commitment",
    "best_commitment",
    "solve_commitment",
    "solve_strategic",
    "with_harm_report",
]
