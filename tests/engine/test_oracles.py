"""Closed-form oracles solved end to end: rates, cost, detection, binding, shadow prices,
and the diagnosis of specs that cannot be met."""

from __future__ import annotations

import math
import re

import deter
import pytest
from deter.solver.results.result import Result

from tests.support.reference import (
    CAP_TOO_SMALL,
    INFEASIBLE_REFERENCES,
    OPTIMAL_REFERENCES,
    UNDETECTABLE,
    Reference,
    spec_text,
)

REL = 1e-6


def solved(ref: Reference, **options: object) -> Result:
    return deter.solve(deter.load_spec(ref.text), **options)


def close(actual: float | None, expected: float, rel: float = REL) -> bool:
    return actual is not None and math.isclose(actual, expected, rel_tol=rel, abs_tol=rel)


@pytest.mark.parametrize("ref", OPTIMAL_REFERENCES, ids=lambda r: r.name)
def test_reference_optimum(ref: Reference) -> None:
    result = solved(ref)
    assert result.status == "optimal", result.message
    assert result.verification is not None and result.verification.passed
    assert close(result.total_cost, ref.cost or 0.0), (result.total_cost, ref.cost)
    for name, rate in ref.rates.items():
        assert close(result.monitor(name).rate, rate), (name, result.monitor(name).rate, rate)
    for name, p in ref.detection.items():
        assert close(result.action(name).detection, p), (name, result.action(name).detection, p)
    for name, binding in ref.binding.items():
        assert result.action(name).binding is binding, name
    for action in result.actions:
        assert action.deterred, action.name
    # Exactly the declared monitors and audits are reported, each at its own cost.
    assert {m.name for m in result.monitors} >= set(ref.rates)
    assert math.isclose(
        sum(m.cost for m in result.monitors), result.total_cost or 0.0, abs_tol=1e-12
    )


@pytest.mark.parametrize(
    "ref", [r for r in OPTIMAL_REFERENCES if r.shadow_prices], ids=lambda r: r.name
)
def test_reference_shadow_prices(ref: Reference) -> None:
    result = solved(ref)
    for name, price in ref.shadow_prices.items():
        assert close(result.action(name).shadow_price, price, 1e-5), (
            name,
            result.action(name).shadow_price,
            price,
        )


@pytest.mark.parametrize(
    "ref", [r for r in OPTIMAL_REFERENCES if r.shadow_prices], ids=lambda r: r.name
)
def test_shadow_prices_match_the_derivative_of_the_cost(ref: Reference) -> None:
    """d(least cost)/d(gain_i), by central differences of two more solves."""
    spec = deter.load_spec(ref.text)
    base = deter.solve(spec)
    h = 1e-4
    for name, price in ref.shadow_prices.items():
        costs = []
        for step in (-h, h):
            data = spec.model_dump()
            for action in data["actions"]:
                if action["name"] == name:
                    action["gain"] += step
            shifted = deter.solve(deter.solver.spec.loading.validate_spec_data(data))
            assert shifted.status == "optimal", shifted.message
            costs.append(shifted.total_cost or 0.0)
        derivative = (costs[1] - costs[0]) / (2 * h)
        assert math.isclose(derivative, price, rel_tol=1e-3, abs_tol=1e-6), (name, derivative)
        assert close(base.action(name).shadow_price, derivative, 1e-3)


@pytest.mark.parametrize("solver", ["HIGHS", "CLARABEL"])
@pytest.mark.parametrize("ref", OPTIMAL_REFERENCES[:4], ids=lambda r: r.name)
def test_each_solver_alone_reaches_the_optimum(ref: Reference, solver: str) -> None:
    result = solved(ref, solvers=(solver,))
    assert result.status == "optimal", result.message
    assert result.solver == solver
    assert close(result.total_cost, ref.cost or 0.0, 1e-6)


@pytest.mark.parametrize("ref", INFEASIBLE_REFERENCES, ids=lambda r: r.name)
def test_infeasible_reference(ref: Reference) -> None:
    result = solved(ref)
    assert result.status == "infeasible"
    assert result.total_cost is None
    assert result.diagnosis is not None
    with pytest.raises(deter.InfeasibleError):
        result.raise_for_status()
    blocked = {a.name for a in result.diagnosis.actions if not a.deterrable}
    assert blocked == set(ref.undeterrable)
    for name in ref.undeterrable:
        assert re.search(rf"\b{name}\b", result.message), result.message
    if ref.least_cost is not None:
        assert close(result.diagnosis.least_cost, ref.least_cost)
        assert result.diagnosis.budget is not None
        assert result.diagnosis.least_cost > result.diagnosis.budget  # type: ignore[operator]


def test_undetectable_action_diagnosis() -> None:
    result = solved(UNDETECTABLE)
    assert result.diagnosis is not None
    hidden = next(a for a in result.diagnosis.actions if a.name == "hidden")
    assert hidden.max_detection == 0
    assert hidden.max_expected_penalty == 0
    assert hidden.cap_needed is None  # no penalty deters what is never caught
    seen = next(a for a in result.diagnosis.actions if a.name == "seen")
    assert seen.deterrable


def test_cap_needed_deters_when_plugged_back() -> None:
    """At the ceiling P = 0.5: the cap that deters is gap / P = 10, and with it the spec
    solves (every rate at its ceiling), while just below it stays infeasible."""
    result = solved(CAP_TOO_SMALL)
    assert result.diagnosis is not None
    steal = result.diagnosis.actions[0]
    assert close(steal.max_detection, 0.5)
    assert close(steal.max_expected_penalty, 0.5 * 4.0)
    assert steal.cap_needed is not None and close(steal.cap_needed, 10.0)
    for cap, status in ((steal.cap_needed, "optimal"), (steal.cap_needed * 0.999, "infeasible")):
        text = spec_text(
            [{"name": "comply", "gain": 0.0}, {"name": "steal", "gain": 5.0, "penalty_cap": cap}],
            [{"name": "guard", "cost": 1.0, "detects": {"steal": 0.5}}],
        )
        assert deter.solve(deter.load_spec(text)).status == status, cap


def _evasion(cap: float, r: float, q: float) -> str:
    return spec_text(
        [{"name": "comply", "gain": 1.0}, {"name": "evade", "gain": 3.5, "penalty_cap": cap}],
        [{"name": "audit", "cost": 1.0, "max_rate": 0.8, "detects": {"evade": q}}],
        agent={"risk_aversion": r},
    )


@pytest.mark.parametrize("r", [0.3, -0.3])
def test_cara_cap_needed_deters_when_plugged_back(r: float) -> None:
    result = deter.solve(deter.load_spec(_evasion(2.0, r, q=1.0)))
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    needed = result.diagnosis.actions[0].cap_needed
    assert needed is not None and needed > 2.0
    fixed = deter.solve(deter.load_spec(_evasion(needed * (1 + 1e-9), r, q=1.0)))
    assert fixed.status == "optimal", fixed.message
    assert close(fixed.monitor("audit").rate, 0.8, 1e-5)


def test_risk_seeking_agent_no_cap_deters() -> None:
    """r < 0 bounds the utility any penalty takes: u(g) - u(g - F) < exp(-r g) / (-r).
    Gap 2.5, P at most 0.4: the need u(2.5) / 0.4 = 9.3 exceeds that bound, 7.05."""
    result = deter.solve(deter.load_spec(_evasion(2.0, -0.3, q=0.5)))
    assert result.diagnosis is not None
    assert result.diagnosis.actions[0].cap_needed is None
    assert "no penalty cap" in result.diagnosis.actions[0].reason
    huge = deter.solve(deter.load_spec(_evasion(1e4, -0.3, q=0.5)))
    assert huge.status == "infeasible"


def test_budget_diagnosis_reports_least_cost_in_message() -> None:
    result = solved(INFEASIBLE_REFERENCES[0])
    assert result.diagnosis is not None and result.diagnosis.least_cost is not None
    assert "0.3" in result.message and "0.25" in result.message


def test_shadow_prices_lie_between_one_sided_derivatives_on_random_specs() -> None:
    """On seeded random specs (test_crosscheck_linprog's generator), every shadow price lies
    between the left and right derivatives of the least cost in that action's gain (equal
    to both where the cost is differentiable; a subgradient at a kink)."""
    import copy

    import numpy as np
    from deter.solver.spec.loading import validate_spec_data

    from tests.support.random_specs import random_spec

    rng = np.random.default_rng(11)
    checked = 0
    h = 1e-5
    for family in ("risk_neutral", "cara", "false_positives", "budget_and_min_rates") * 8:
        data = random_spec(rng, family)
        base = deter.solve(validate_spec_data(data))
        if base.status != "optimal":
            continue
        for i in range(1, len(data["actions"])):
            costs = []
            for step in (-h, h):
                shifted = copy.deepcopy(data)
                shifted["actions"][i]["gain"] += step
                result = deter.solve(validate_spec_data(shifted))
                costs.append(result.total_cost if result.status == "optimal" else math.inf)
            assert base.total_cost is not None
            left, right = (base.total_cost - costs[0]) / h, (costs[1] - base.total_cost) / h
            price = base.action(data["actions"][i]["name"]).shadow_price
            assert price is not None
            slack = 1e-3 * max(1.0, abs(price))
            assert min(left, right) - slack <= price <= max(left, right) + slack, (
                data,
                price,
                left,
                right,
            )
            checked += 1
    assert checked >= 20
