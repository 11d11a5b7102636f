"""Agent types (stacked rows under deter_all, DOBSS under min_loss) and interval gains."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from deter.solver.engine.infeasibility import certify_commitment_infeasible
from deter.solver.engine.solve import solve
from deter.solver.engine.strategic import best_commitment, solve_commitment
from deter.solver.engine.verify_commitment import verify_commitment
from deter.solver.model.types import StrategicArrays
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.numbers import in_range
from tests.support.reference import cara_detection
from tests.support.strategy_specs import one_action, strategic_spec


def _two_types(harm: float, objective: str):
    """comply / cheat, one monitor (q = 1, c = 1), F = 10; types: 'low' (w 0.7, gain 1) and
    'high' (w 0.3, gain 4). Deterring low needs x >= 0.1, high x >= 0.4. Losses: deter both
    0.4; deter low only 0.1 + 0.3 h; deter none h."""
    return strategic_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0, "harm": harm}],
        [{"name": "inspector", "cost": 1.0, "detects": {"cheat": 1.0}}],
        agent={"penalty_cap": 10.0},
        oversight={"objective": objective},
        types=[
            {"name": "low", "weight": 0.7},
            {"name": "high", "weight": 0.3, "gains": {"cheat": 4.0}},
        ],
    )


def test_deter_all_deters_every_type() -> None:
    result = solve(_two_types(0.0, "deter_all"))
    assert result.status == "optimal" and result.strategy is not None
    assert result.monitor("inspector").rate == pytest.approx(0.4, rel=1e-6)
    assert [t.induced_action for t in result.strategy.types] == ["comply", "comply"]


@pytest.mark.parametrize(
    "harm, low, high, loss",
    [
        (0.5, "comply", "cheat", 0.1 + 0.3 * 0.5),
        (2.0, "comply", "comply", 0.4),
        (0.1, "cheat", "cheat", 0.1),
    ],
)
def test_min_loss_chooses_which_types_to_deter(
    harm: float, low: str, high: str, loss: float
) -> None:
    result = solve(_two_types(harm, "min_loss"))
    assert result.status == "optimal" and result.strategy is not None
    assert [t.induced_action for t in result.strategy.types] == [low, high]
    assert result.strategy.expected_loss == pytest.approx(loss, rel=1e-6, abs=1e-9)
    assert result.verification is not None and result.verification.passed


def test_one_type_equals_the_untyped_spec_and_its_risk_aversion_override_applies() -> None:
    actions = [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 3.0}]
    monitors = [{"name": "m", "cost": 2.0, "detects": {"cheat": 0.6}}]
    typed = strategic_spec(
        actions,
        monitors,
        agent={"penalty_cap": 20.0},
        types=[{"name": "only", "weight": 1.0, "risk_aversion": 0.3}],
    )
    plain = strategic_spec(actions, monitors, agent={"penalty_cap": 20.0, "risk_aversion": 0.3})
    assert solve(typed).total_cost == pytest.approx(solve(plain).total_cost, rel=1e-6)
    # Closed form for CARA: P = expm1(r g) / expm1(r F), rate P / q, cost c P / q.
    assert solve(typed).total_cost == pytest.approx(
        2.0 * cara_detection(3.0, 20.0, 0.3) / 0.6, rel=1e-6
    )


@pytest.mark.parametrize("r", [0.0, 0.4, -0.2])
def test_interval_gains_bind_at_the_deviation_high_end_and_compliance_low_end(r: float) -> None:
    monitors = [{"name": "m", "cost": 1.0, "detects": {"cheat": 0.5}}]
    agent = {"penalty_cap": 10.0, "risk_aversion": r}
    interval = strategic_spec(
        [{"name": "comply", "gain": [0.5, 1.0]}, {"name": "cheat", "gain": [1.0, 3.0]}],
        monitors,
        agent=agent,
    )
    worst = strategic_spec(
        [{"name": "comply", "gain": 0.5}, {"name": "cheat", "gain": 3.0}], monitors, agent=agent
    )
    assert solve(interval).total_cost == pytest.approx(solve(worst).total_cost, rel=1e-7)
    # ... and through the strategic program too (types path), the same number.
    data = StrategicArrays.from_spec(interval)
    assert best_commitment(data, "deter_all").cost == pytest.approx(
        solve(worst).total_cost, rel=1e-6
    )


gain = in_range(-1.0, 6.0)


@settings(max_examples=15, deadline=None)
@given(
    first=st.lists(gain, min_size=2, max_size=2),
    second=st.lists(gain, min_size=2, max_size=2),
    r=st.sampled_from([0.0, 0.2]),
)
def test_adding_a_type_never_lowers_the_cost_of_deter_all(
    first: list[float], second: list[float], r: float
) -> None:
    actions = [
        {"name": "comply", "gain": 0.0},
        {"name": "a", "gain": 1.0},
        {"name": "b", "gain": 1.0},
    ]
    monitors = [
        {"name": "m0", "cost": 1.0, "detects": {"a": 0.9, "b": 0.2}},
        {"name": "m1", "cost": 0.5, "detects": {"b": 0.7}},
    ]
    one = [
        {"name": "t1", "weight": 1.0, "gains": {"a": first[0], "b": first[1]}, "risk_aversion": r}
    ]
    two = [
        {**one[0], "weight": 0.5},
        {"name": "t2", "weight": 0.5, "gains": {"a": second[0], "b": second[1]}},
    ]
    costs = []
    for types in (one, two):
        spec = strategic_spec(actions, monitors, agent={"penalty_cap": 10.0}, types=types)
        outcome = solve_commitment(StrategicArrays.from_spec(spec), (0,) * len(types))
        if outcome.status == "solver_error" and any(0 < g < 1e-8 * 10.0 for g in first + second):
            # deterring it asks a detection below 1e-8, beyond the commitment program's
            # resolution (rows divided by their largest coefficient): rate 0 is within
            # HiGHS's tightest tolerance, and exact verification refuses that answer (a gain
            # of 1e-26 left undeterred) instead of calling it optimal
            assert any("failed verification" in line for line in outcome.attempts)
            return
        assert outcome.status == "optimal"
        assert outcome.verification is not None and outcome.verification.passed
        costs.append(outcome.cost)
    assert costs[1] >= costs[0] - 1e-7 * max(1.0, costs[0])


# --- exact verification and proofs of infeasibility (issue 12) -------------------------------


def two_types(gain_b: float, max_rate: float = 1.0, budget: float | None = None) -> Any:
    """Types t1 (cheat pays 2) and t2 (cheat pays gain_b), cap 10, one inspector (q 0.5)."""
    oversight: dict[str, Any] = {}
    if budget is not None:
        oversight["budget"] = budget
    return strategic_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0}],
        [{"name": "inspector", "cost": 1.0, "max_rate": max_rate, "detects": {"cheat": 0.5}}],
        agent={"penalty_cap": 10.0},
        oversight=oversight,
        types=[
            {"name": "t1", "weight": 0.5},
            {"name": "t2", "weight": 0.5, "gains": {"cheat": gain_b}, "risk_aversion": 0.3},
        ],
    )


def test_an_undeterrable_type_is_proven_infeasible_exactly() -> None:
    """t2 (CARA 0.3) gains 6 from cheating; at the ceiling 0.5 it is caught with 0.25, far
    short: the solver's "infeasible" stands with a certificate checked exactly, and a spec
    one type can be deterred in has none."""
    data = StrategicArrays.from_spec(two_types(6.0, max_rate=0.5))
    certificate = certify_commitment_infeasible(data, (0, 0))
    assert certificate is not None and any("t2" in label for label, _ in certificate.rows)
    assert solve(two_types(6.0, max_rate=0.5)).status == "infeasible"
    feasible = StrategicArrays.from_spec(two_types(1.0, max_rate=0.5))
    assert certify_commitment_infeasible(feasible, (0, 0)) is None
    # within the budget: t1 needs P = 2 / 10, rate 0.4 (cost 0.4), and the budget is 0.3
    over = StrategicArrays.from_spec(two_types(1.0, budget=0.3))
    assert certify_commitment_infeasible(over, (0, 0)) is not None
    assert certify_commitment_infeasible(over, (0, 0), budget=False) is None


def test_a_tiny_gain_left_undeterred_fails_verification() -> None:
    """A gain of 1e-8 at rate 0: deviating pays 1e-8 more, so compliance is not a best
    response. Checks floored at 1 utility unit with a 1e-6 tolerance passed it; each row is
    now judged at its own terms and decided exactly."""
    spec = one_action(gain=1e-8)
    data = StrategicArrays.from_spec(spec)
    zero = np.zeros(data.base.n_monitors)
    verdict = verify_commitment(data, zero, np.ones_like(zero), (0,), 0.0, 0.0)
    assert not verdict.passed
    assert {c.name: c for c in verdict.checks}["best_response"].max_relative_violation > 0
    # the least rate: 1e-8 / (0.5 * 10) = 2e-9; it passes (a tie goes to the principal)
    # and one ulp below fails, decided in exact arithmetic
    rate = np.array([2e-9])
    exact_tie = Fraction(1, 2) * Fraction(2e-9) * 10 >= Fraction(1e-8)
    assert verify_commitment(data, rate, np.ones(1), (0,), 2e-9, 0.0).passed == exact_tie
    below = np.array([math.nextafter(2e-9, 0.0)])
    assert not verify_commitment(data, below, np.ones(1), (0,), float(below[0]), 0.0).passed
    result = solve(spec)
    assert result.status == "optimal"
    assert result.monitors[0].rate * 0.5 * 10 >= 1e-8 * (1 - 1e-15)
