"""explain prices the constraints of exponential detection with false flags (the branch and
bound's answers): the multipliers of the restriction at the answer, certified with the
actions' shadow prices (``flag_search.certified_prices``), match finite differences of
re-solved specs, and a multiplier on a bound slack at the answer is never reported."""

from __future__ import annotations

from dataclasses import replace

import deter
import numpy as np
import pytest
from deter.solver.analysis.explain import explain
from deter.solver.analysis.sweep import set_value
from deter.solver.engine import flag_search
from deter.solver.formulation import flag_nodes


def flag_text(
    ceiling: float = 1.0, floor: float = 0.05, risk_aversion: float = 0.0, margin: float = 0.0
) -> str:
    """Two monitors with false flags: ``m`` cheap and noisy (its ceiling binds when low), ``n``
    dear with a floor (binding when ``m`` can do the work)."""
    return f"""
version = 1
[agent]
penalty_cap = 10.0
false_positive_penalty = 1.0
risk_aversion = {risk_aversion!r}
margin = {margin!r}
[oversight]
detection = "exponential"
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 5.0
[[actions]]
name = "skim"
gain = 1.5
penalty_cap = 6.0
[[monitors]]
name = "m"
cost = 1.0
max_rate = {ceiling!r}
detects = {{ cheat = 0.9, skim = 0.5 }}
false_positive = 0.3
[[monitors]]
name = "n"
cost = 3.0
min_rate = {floor!r}
detects = {{ cheat = 0.7, skim = 0.2 }}
false_positive = 0.2
"""


SPECS = {
    "floor binds": flag_text(),
    "ceiling binds": flag_text(ceiling=0.3),
    "risk-averse with a margin": flag_text(ceiling=0.35, risk_aversion=0.2, margin=0.1),
}


def cost_of(spec: deter.Spec) -> float:
    result = deter.solve(spec)
    assert result.status == "optimal", result.message
    assert result.total_cost is not None
    return result.total_cost


@pytest.mark.parametrize("name", sorted(SPECS))
def test_constraint_prices_match_finite_differences(name: str) -> None:
    spec = deter.load_spec(SPECS[name])
    result = deter.solve(spec)
    assert result.status == "optimal" and result.duals is not None, result.notes
    assert result.verification is not None
    assert result.verification.duality is not None
    assert result.verification.duality.kind == "branch_and_bound"
    explanation = explain(spec, result)
    base = explanation.total_cost
    assert base is not None and explanation.relaxations
    for relaxation in explanation.relaxations:
        now = relaxation.current
        step = 1e-4 * max(abs(now), 1e-2) * (1 if relaxation.relaxed > now else -1)
        slope = (cost_of(set_value(spec, relaxation.path, now + step)) - base) / step
        assert relaxation.marginal == pytest.approx(slope, rel=3e-3, abs=1e-6), relaxation
    paths = {r.path for r in explanation.relaxations}
    expected = {"floor binds": "monitors.n.min_rate", "ceiling binds": "monitors.m.max_rate"}
    assert expected.get(name, "agent.margin") in paths
    for monitor in explanation.monitors:  # stationarity in the rates, with P_0's slope
        if monitor.state == "interior":
            assert monitor.value_per_rate == pytest.approx(monitor.unit_cost, rel=1e-5)
        elif monitor.state == "ceiling":
            assert monitor.value_per_rate >= monitor.unit_cost * (1 - 1e-6)
        elif monitor.state in ("unused", "floor"):
            assert monitor.value_per_rate <= monitor.unit_cost * (1 + 1e-6)


def test_a_price_on_a_slack_bound_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The restriction's multipliers put on the ceiling of ``n`` (far from it at the answer):
    complementary slackness fails, so the result carries no constraint prices, says why, and
    explain prices no constraint, while the actions' certified prices stay."""
    honest = flag_nodes.bound_duals

    def lying(program: flag_nodes.NodeProgram) -> flag_nodes.BoundDuals:
        found = honest(program)
        return replace(found, ceiling=found.ceiling + np.array([0.0, 1.0]))

    monkeypatch.setattr(flag_search, "bound_duals", lying)
    spec = deter.load_spec(SPECS["floor binds"])
    result = deter.solve(spec)
    assert result.status == "optimal" and result.duals is None
    assert any("rate ceiling of 'n'" in note for note in result.notes), result.notes
    assert all(a.shadow_price is not None for a in result.actions)
    explanation = explain(spec, result)
    assert not explanation.relaxations
    assert "No constraint is priced" in " ".join(s for _, p in explanation.paragraphs for s in p)


#: exponential_fp-7 of bench/reliability.py: a0 pays less than complying, so its row is
#: 0 >= 0 at every policy; the floors alone set the cost (solved by the core program).
VACUOUS_ROW = """
version = 1
[agent]
penalty_cap = 32.0042
false_positive_penalty = 1.95543
[oversight]
budget = 3.68526
detection = "exponential"
[[actions]]
name = "comply"
gain = -0.411044
[[actions]]
name = "a0"
gain = -1.37071
[[monitors]]
name = "m0"
cost = 0.947392
detects = { a0 = 0.857389 }
min_rate = 0.0320722
false_positive = 0.236014
[[monitors]]
name = "m1"
cost = 4.73075
detects = { a0 = 0.382564 }
min_rate = 0.19599
false_positive = 0.147312
"""


def test_a_slack_row_has_no_multiplier_in_the_duals_explain_reads() -> None:
    """The core program's multiplier of a row slack at the answer is degenerate (0.133
    here): it priced the penalty cap and the false-flag penalty in explain, whose finite
    differences are 0. A slack row's multiplier is 0 in ``Result.duals`` as in the shadow
    prices, and only the floors are priced, at their costs."""
    spec = deter.load_spec(VACUOUS_ROW)
    result = deter.solve(spec)
    assert result.status == "optimal" and result.duals is not None
    assert result.duals.incentive == (0.0,) and result.duals.false_flag == 0.0
    explanation = explain(spec, result)
    priced = {r.path: r.marginal for r in explanation.relaxations}
    assert set(priced) == {"monitors.m0.min_rate", "monitors.m1.min_rate"}
    assert priced["monitors.m0.min_rate"] == pytest.approx(0.947392, rel=1e-6)
    assert priced["monitors.m1.min_rate"] == pytest.approx(4.73075, rel=1e-6)
