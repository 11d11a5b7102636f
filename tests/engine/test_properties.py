"""Properties of the solver over random valid specs (hypothesis).

The constraints are re-checked here from the model's definition, written out again
(``reference.u``), so the check shares no code with ``solver/verify.py``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import deter
import numpy as np
from deter.solver.results.result import Result
from deter.solver.spec.loading import validate_spec_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.reference import u

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def amounts(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 4))


@st.composite
def spec_data(
    draw: st.DrawFn,
    risk_neutral: bool = False,
    with_budget: bool = True,
    with_min_rates: bool = True,
) -> dict[str, Any]:
    n_dev = draw(st.integers(1, 3))
    n_mon = draw(st.integers(1, 3))
    g0 = draw(amounts(-2.0, 2.0))
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    for i in range(n_dev):
        action: dict[str, Any] = {"name": f"a{i}", "gain": round(g0 + draw(amounts(-1, 5)), 4)}
        if draw(st.booleans()):
            action["penalty_cap"] = draw(amounts(0.5, 25.0))
        if draw(st.integers(0, 4)) == 0:
            action["audit_cost"] = draw(amounts(0.1, 6.0))
            action["audit_detection"] = draw(amounts(0.1, 1.0))
        actions.append(action)
    monitors = []
    for j in range(n_mon):
        detects = draw(
            st.dictionaries(st.sampled_from([f"a{i}" for i in range(n_dev)]), amounts(0.05, 1.0))
        )
        monitor: dict[str, Any] = {
            "name": f"m{j}",
            "cost": draw(amounts(0.05, 5.0)),
            "detects": detects,
        }
        low = draw(amounts(0.0, 0.3)) if with_min_rates and draw(st.booleans()) else 0.0
        monitor["min_rate"] = low
        monitor["max_rate"] = max(low, draw(amounts(0.3, 1.0)))
        monitor["false_positive"] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
        monitors.append(monitor)
    agent: dict[str, Any] = {
        "penalty_cap": draw(amounts(0.5, 25.0)),
        "risk_aversion": 0.0 if risk_neutral else draw(st.sampled_from([0.0, 0.2, -0.2, 0.45])),
        "margin": draw(st.sampled_from([0.0, 0.0, 0.1, 0.5])),
        "false_positive_penalty": draw(st.sampled_from([0.0, 0.0, 1.0, 4.0])),
    }
    data: dict[str, Any] = {"actions": actions, "monitors": monitors, "agent": agent}
    if with_budget and draw(st.booleans()):
        data["oversight"] = {"budget": draw(amounts(0.1, 5.0))}
    return data


def solve(data: dict[str, Any]) -> Result:
    return deter.solve(validate_spec_data(data))


def monitor_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Declared monitors, then one per audit shorthand (spec format v1)."""
    monitors = [dict(m) for m in data["monitors"]]
    for a in data["actions"]:
        if "audit_cost" in a:
            monitors.append(
                {
                    "name": f"audit:{a['name']}",
                    "cost": a["audit_cost"],
                    "detects": {a["name"]: a.get("audit_detection", 1.0)},
                }
            )
    return monitors


def violations(data: dict[str, Any], rates: dict[str, float], tol: float = 1e-6) -> list[str]:
    """Every constraint of the model that ``rates`` breaks, checked from scratch."""
    agent = data["agent"]
    r, margin = agent["risk_aversion"], agent["margin"]
    monitors = monitor_table(data)
    broken = []
    for mon in monitors:
        x = rates[mon["name"]]
        if x < mon.get("min_rate", 0.0) - tol or x > mon.get("max_rate", 1.0) + tol:
            broken.append(f"bounds of {mon['name']}: {x}")
    cost = sum(mon["cost"] * rates[mon["name"]] for mon in monitors)
    budget = data.get("oversight", {}).get("budget")
    if budget is not None and cost > budget * (1 + tol) + tol:
        broken.append(f"budget: {cost} > {budget}")
    g0 = data["actions"][0]["gain"]
    flags = min(1.0, sum(mon.get("false_positive", 0.0) * rates[mon["name"]] for mon in monitors))
    ffp = agent["false_positive_penalty"]
    comply = (1 - flags) * u(g0, r) + flags * u(g0 - ffp, r)
    for a in data["actions"][1:]:
        g = a["gain"]
        cap = a.get("penalty_cap", agent["penalty_cap"])
        p = min(
            1.0, sum(mon["detects"].get(a["name"], 0.0) * rates[mon["name"]] for mon in monitors)
        )
        deviate = (1 - p) * u(g, r) + p * u(g - cap, r)
        scale = max(1.0, abs(deviate), abs(comply))
        if deviate > comply - margin + tol * scale:
            broken.append(f"incentive of {a['name']}: {deviate} > {comply} - {margin}")
    return broken


def rates_of(result: Result) -> dict[str, float]:
    return {m.name: m.rate for m in result.monitors}


def max_rates(data: dict[str, Any]) -> dict[str, float]:
    return {mon["name"]: mon.get("max_rate", 1.0) for mon in monitor_table(data)}


def no_more_than(new: float | None, old: float | None) -> bool:
    assert new is not None and old is not None
    return new <= old + 1e-6 * max(1.0, abs(old))


@PROPERTY_SETTINGS
@given(spec_data())
def test_returned_rates_satisfy_every_constraint(data: dict[str, Any]) -> None:
    result = solve(data)
    assert result.status in ("optimal", "infeasible"), result.message
    if result.status == "optimal":
        assert violations(data, rates_of(result)) == []
        cost = sum(m.unit_cost * m.rate for m in result.monitors)
        assert math.isclose(cost, result.total_cost or 0.0, rel_tol=1e-9, abs_tol=1e-12)
        assert all(a.deterred for a in result.actions)
    else:
        assert result.diagnosis is not None


@PROPERTY_SETTINGS
@given(spec_data(with_budget=False))
def test_infeasible_only_when_the_ceiling_fails(data: dict[str, Any]) -> None:
    """Without a false-positive penalty, more monitoring never hurts deterrence: the spec is
    feasible exactly when every rate at its ceiling deters every action."""
    data["agent"]["false_positive_penalty"] = 0.0
    result = solve(data)
    ceiling_ok = not violations(data, max_rates(data), tol=1e-9)
    if result.status == "infeasible":
        assert not ceiling_ok
    else:
        assert result.status == "optimal"


@PROPERTY_SETTINGS
@given(spec_data(risk_neutral=True), st.sampled_from([0.25, 0.5, 3.0, 10.0]))
def test_scaling_money_leaves_the_rates_unchanged(data: dict[str, Any], factor: float) -> None:
    """Risk neutral: multiplying every gain, cap, margin and false-positive penalty by the same
    factor multiplies both sides of every incentive constraint by it."""
    scaled = copy.deepcopy(data)
    for action in scaled["actions"]:
        action["gain"] *= factor
        if "penalty_cap" in action:
            action["penalty_cap"] *= factor
    for key in ("penalty_cap", "margin", "false_positive_penalty"):
        scaled["agent"][key] *= factor
    base, other = solve(data), solve(scaled)
    assert other.status == base.status
    if base.status == "optimal":
        assert math.isclose(
            other.total_cost or 0.0, base.total_cost or 0.0, rel_tol=1e-6, abs_tol=1e-9
        )
        np.testing.assert_allclose(
            [m.rate for m in other.monitors], [m.rate for m in base.monitors], atol=1e-6
        )


@PROPERTY_SETTINGS
@given(spec_data(), st.data())
def test_raising_a_penalty_cap_never_raises_the_cost(
    data: dict[str, Any], more: st.DataObject
) -> None:
    base = solve(data)
    raised = copy.deepcopy(data)
    index = more.draw(st.integers(1, len(data["actions"]) - 1))
    action = raised["actions"][index]
    cap = action.get("penalty_cap", raised["agent"]["penalty_cap"])
    action["penalty_cap"] = cap + more.draw(amounts(0.1, 20.0))
    other = solve(raised)
    if base.status == "optimal":
        assert other.status == "optimal", other.message
        assert no_more_than(other.total_cost, base.total_cost)


@PROPERTY_SETTINGS
@given(spec_data(), st.data())
def test_adding_a_monitor_never_raises_the_cost(data: dict[str, Any], more: st.DataObject) -> None:
    base = solve(data)
    extended = copy.deepcopy(data)
    names = [a["name"] for a in data["actions"][1:]]
    extended["monitors"].append(
        {
            "name": "extra",
            "cost": more.draw(amounts(0.05, 5.0)),
            "detects": more.draw(st.dictionaries(st.sampled_from(names), amounts(0.05, 1.0))),
            "false_positive": more.draw(st.sampled_from([0.0, 0.1])),
            "max_rate": more.draw(amounts(0.2, 1.0)),
        }
    )
    other = solve(extended)
    if base.status == "optimal":
        assert other.status == "optimal", other.message
        assert no_more_than(other.total_cost, base.total_cost)


@PROPERTY_SETTINGS
@given(spec_data())
def test_cost_never_exceeds_the_all_max_rates_policy(data: dict[str, Any]) -> None:
    ceiling = max_rates(data)
    result = solve(data)
    if not violations(data, ceiling, tol=0.0):
        assert result.status == "optimal", result.message
        ceiling_cost = sum(mon["cost"] * ceiling[mon["name"]] for mon in monitor_table(data))
        assert no_more_than(result.total_cost, ceiling_cost)
