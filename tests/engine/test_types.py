"""Agent types (stacked rows under deter_all, DOBSS under min_loss) and interval gains."""

from __future__ import annotations

import pytest
from deter.solver.engine.solve import solve
from deter.solver.engine.strategic import best_commitment, solve_commitment
from deter.solver.model.types import StrategicArrays
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.numbers import in_range
from tests.support.reference import cara_detection
from tests.support.strategy_specs import strategic_spec


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
        assert outcome.status == "optimal"
        assert outcome.verification is not None and outcome.verification.passed
        costs.append(outcome.cost)
    assert costs[1] >= costs[0] - 1e-7 * max(1.0, costs[0])
