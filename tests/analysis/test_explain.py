"""explain: every marginal figure matches finite differences of re-solved specs."""

from __future__ import annotations

import json
import math
from typing import Any

import deter
import pytest
from deter.cli.app import app
from deter.solver.analysis.explain import explain
from deter.solver.analysis.sweep import get_value, set_value

from tests.support.paths import ROOT
from tests.support.reference import spec_text

PROBLEMS = ROOT / "problems"


def cost_of(spec: deter.Spec) -> float:
    result = deter.solve(spec)
    assert result.status == "optimal", result.message
    assert result.total_cost is not None
    return result.total_cost


def ceiling_text(r: float = 0.0, margin: float = 0.0) -> str:
    """The cheap monitor runs out (its ceiling binds); the dear one tops detection up."""
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "steal", "gain": 5.0},
            {"name": "shirk", "gain": 1.0},
        ],
        monitors=[
            {"name": "cheap", "cost": 1.0, "max_rate": 0.4, "detects": {"steal": 0.5}},
            {"name": "dear", "cost": 10.0, "detects": {"steal": 0.9, "shirk": 0.6}},
            {"name": "floor", "cost": 2.0, "min_rate": 0.3, "detects": {"shirk": 0.01}},
        ],
        agent={"penalty_cap": 10.0, "risk_aversion": r, "margin": margin},
        problem={"currency": "EUR"},
    )


def designed_text(design: str, cost: float, margin: float = 0.0) -> str:
    """Penalties chosen at a cost: steal's own cap binds when punishing is cheap, shirk's
    default cap does not."""
    return (
        spec_text(
            actions=[
                {"name": "comply", "gain": 0.0},
                {"name": "steal", "gain": 5.0, "penalty_cap": 10.0},
                {"name": "shirk", "gain": 1.0},
            ],
            monitors=[
                {"name": "audit", "cost": 2.0, "detects": {"steal": 0.8, "shirk": 0.3}},
                {"name": "spot", "cost": 0.5, "max_rate": 0.2, "detects": {"shirk": 0.5}},
            ],
            agent={"penalty_cap": 40.0, "margin": margin},
            problem={"currency": "EUR"},
        )
        + f'\n[penalty]\ndesign = "{design}"\ncost = {cost}\n'
    )


SPECS = {
    "coding_agent": lambda: deter.load_spec(PROBLEMS / "coding_agent.toml"),
    "becker_crime": lambda: deter.load_spec(PROBLEMS / "becker_crime.toml"),
    "ceiling": lambda: deter.load_spec(ceiling_text()),
    "ceiling_risk_averse_margin": lambda: deter.load_spec(ceiling_text(r=0.15, margin=0.2)),
    "audit_games_penalty": lambda: deter.load_spec(PROBLEMS / "audit_games_penalty.toml"),
    "per_action_cheap_penalty": lambda: deter.load_spec(designed_text("per_action", 0.001, 0.1)),
    "shared_cheap_penalty": lambda: deter.load_spec(designed_text("shared", 0.002)),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_relaxation_marginals_match_finite_differences(name: str) -> None:
    spec = SPECS[name]()
    explanation = explain(spec)
    base = explanation.total_cost
    assert base is not None and explanation.relaxations
    for relaxation in explanation.relaxations:
        now = relaxation.current
        step = 1e-5 * max(abs(now), 1e-3) * (1 if relaxation.relaxed > now else -1)
        slope = (cost_of(set_value(spec, relaxation.path, now + step)) - base) / step
        assert relaxation.marginal == pytest.approx(slope, rel=2e-3, abs=1e-7), relaxation
        # The exact saving is a real re-solve of the relaxed spec, written independently.
        assert relaxation.exact_saving == pytest.approx(
            base - cost_of(set_value(spec, relaxation.path, relaxation.relaxed)), abs=1e-9
        )
        assert relaxation.first_order_saving == pytest.approx(
            -relaxation.marginal * (relaxation.relaxed - now)
        )
    first = explanation.relax_first
    assert first is not None
    assert first.exact_saving == max(r.exact_saving or 0 for r in explanation.relaxations)


def test_ceiling_floor_margin_and_caps_are_all_found() -> None:
    explanation = explain(SPECS["ceiling_risk_averse_margin"]())
    paths = {r.path for r in explanation.relaxations}
    assert {
        "monitors.cheap.max_rate",
        "monitors.floor.min_rate",
        "agent.margin",
        "agent.penalty_cap",
    } <= paths
    text = " ".join(s for _, sentences in explanation.paragraphs for s in sentences)
    assert "Relax first" in text and "EUR" in text


def test_penalty_design_suggests_its_cost_and_binding_caps() -> None:
    """The cone program has no LP incentive rows; its levers are still found and priced."""
    for name, expected in {
        "audit_games_penalty": {"penalty.cost"},
        "per_action_cheap_penalty": {"penalty.cost", "actions.steal.penalty_cap", "agent.margin"},
        "shared_cheap_penalty": {"penalty.cost", "actions.steal.penalty_cap"},
    }.items():
        explanation = explain(SPECS[name]())
        assert {r.path for r in explanation.relaxations} >= expected, name
        assert all((r.exact_saving or 0) > 0 for r in explanation.relaxations), name
        text = " ".join(s for _, sentences in explanation.paragraphs for s in sentences)
        assert "oversight and penalty cost per episode" in text, name
    games = explain(SPECS["audit_games_penalty"]())
    assert games.relax_first is not None and games.relax_first.path == "penalty.cost"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_gain_shadow_prices_match_finite_differences(name: str) -> None:
    spec = SPECS[name]()
    explanation = explain(spec)
    for action in explanation.actions:
        if not action.binding:
            continue
        gain = get_value(spec, f"actions.{action.name}.gain")
        assert gain is not None
        h = 1e-5 * max(1.0, abs(gain))
        up = cost_of(set_value(spec, f"actions.{action.name}.gain", gain + h))
        down = cost_of(set_value(spec, f"actions.{action.name}.gain", gain - h))
        assert action.shadow_price == pytest.approx((up - down) / (2 * h), rel=2e-3, abs=1e-7)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_monitor_values_obey_lp_stationarity(name: str) -> None:
    """Used at an interior rate a monitor is worth exactly its cost; at its ceiling more."""
    for monitor in explain(SPECS[name]()).monitors:
        if monitor.state == "interior":
            assert monitor.value_per_rate == pytest.approx(monitor.unit_cost, rel=1e-5)
            assert monitor.marginal_for and sum(monitor.buys.values()) == pytest.approx(1)
        elif monitor.state == "ceiling":
            assert monitor.value_per_rate >= monitor.unit_cost * (1 - 1e-6)
        elif monitor.state in ("unused", "floor"):
            assert monitor.value_per_rate <= monitor.unit_cost * (1 + 1e-6)


def blocked_text() -> str:
    """Detection reaches at most 0.5 * 0.5 = 0.25: a cap of 12 or a ceiling of 0.6 deters."""
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "steal", "gain": 3.0, "penalty_cap": 10.0},
        ],
        monitors=[{"name": "audit", "cost": 1.0, "max_rate": 0.5, "detects": {"steal": 0.5}}],
    )


def test_infeasible_fixes_are_the_smallest_and_verified() -> None:
    spec = deter.load_spec(blocked_text())
    explanation = explain(spec)
    assert explanation.status == "infeasible"
    fixes = {f.path: f for f in explanation.fixes}
    assert fixes["actions.steal.penalty_cap"].needed == pytest.approx(12.0)
    assert fixes["monitors.audit.max_rate"].needed == pytest.approx(0.6)
    for fix in fixes.values():
        assert fix.verified
        assert deter.solve(set_value(spec, fix.path, fix.needed)).status == "optimal"
        short = fix.needed * 0.99  # a little less is not enough: the fix is the smallest
        assert deter.solve(set_value(spec, fix.path, short)).status == "infeasible"
        # ...and nor is the binary64 number just below (a tie decided exactly)
        below = math.nextafter(fix.needed, 0.0)
        assert deter.solve(set_value(spec, fix.path, below)).status != "optimal"
    # binary64's 0.6 is below 3/5: 0.5 x 0.6 x 10 < 3 exactly, so 0.6 itself does not deter
    assert fixes["monitors.audit.max_rate"].needed == math.nextafter(0.6, 1.0)
    text = "\n".join(line for _, lines in explanation.paragraphs for line in lines)
    assert "monitors.audit.max_rate to 0.6000000000000001" in text

    budget = explain(deter.load_spec(PROBLEMS / "infeasible" / "over_budget.toml"))
    fix = next(f for f in budget.fixes if f.path == "oversight.budget")
    assert fix.verified and fix.current == 6.0 and fix.needed == pytest.approx(10.0)

    hidden = explain(deter.load_spec(PROBLEMS / "infeasible" / "undetectable_profitable.toml"))
    assert any(f.path == "actions.unauthorised_refund.gain" and f.verified for f in hidden.fixes)


def test_cli_explain_text_json_markdown(runner: Any, write_spec: Any) -> None:
    good = write_spec(ceiling_text(), "good")
    run = runner.invoke(app, ["explain", str(good)])
    assert run.exit_code == 0
    assert "What binds" in run.stdout and "Which constraint to relax first" in run.stdout
    run = runner.invoke(app, ["explain", str(good), "-f", "json"])
    doc = json.loads(run.stdout)
    assert doc["status"] == "optimal" and doc["relax_first"]
    run = runner.invoke(app, ["explain", str(good), "-f", "markdown"])
    assert run.stdout.startswith("## Why this policy")
    bad = write_spec(blocked_text(), "bad")
    run = runner.invoke(app, ["explain", str(bad)])
    assert run.exit_code == 1
    assert "actions.steal.penalty_cap to 12" in run.stdout


def cara_text(max_rate: float) -> str:
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "cheat", "gain": 5.0, "penalty_cap": 8.0},
        ],
        monitors=[{"name": "m", "cost": 1.0, "max_rate": max_rate, "detects": {"cheat": 0.5}}],
        agent={"risk_aversion": 0.5},
    )


def test_a_risk_averse_agent_is_explained_in_utility() -> None:
    """Risk aversion 0.5, cap 8, gain 5: detection 0.2086 deters (u(5) - u(0) equals
    P (u(5) - u(-3))) although its expected penalty 1.67 is far below the gain in money, so the
    sentences compare utilities: the expected utility lost is 1 times the gain's at the
    optimum, and 0.72 times when the ceiling 0.3 stops detection at 0.15."""
    good = explain(deter.load_spec(cara_text(0.5)))
    cheat = next(a for a in good.actions if a.name == "cheat")
    assert cheat.binding and cheat.utility_share == pytest.approx(1.0, rel=1e-6)
    text = "\n".join(line for _, lines in good.paragraphs for line in lines)
    assert "expected penalty of" not in text and "risk aversion 0.5" in text
    blocked = deter.solve(deter.load_spec(cara_text(0.3)))
    assert blocked.status == "infeasible" and blocked.diagnosis is not None
    reason = blocked.diagnosis.actions[0].reason
    assert "expected penalty" not in reason
    # u(w) = (1 - e^{-r w}) / r: P d / k with d = u(5) - u(-3), k = u(5) - u(0)
    share = 0.15 * (math.exp(1.5) - math.exp(-2.5)) / (1 - math.exp(-2.5))
    assert f"is {share:.4g} times the utility" in reason


def test_the_account_is_priced_by_the_engines_verified_duals() -> None:
    """explain reads the multipliers the engine certified (``Result.duals``), not a re-solve:
    the same result without them is explained without prices, and says so."""
    from dataclasses import replace

    spec = deter.load_spec(ceiling_text())
    result = deter.solve(spec)
    assert result.duals is not None
    assert len(result.duals.reach) == len(result.duals.incentive) == 2  # the two deviations
    assert len(result.duals.ceiling) == len(result.duals.floor) == 3  # the three monitors
    priced = explain(spec, result)
    assert any(m.value_per_rate > 0 for m in priced.monitors) and priced.relaxations
    bare = explain(spec, replace(result, duals=None))
    assert not bare.relaxations and all(m.value_per_rate == 0 for m in bare.monitors)
    assert all(a.detection_price == 0 for a in bare.actions)
    assert "No constraint is priced" in " ".join(s for _, p in bare.paragraphs for s in p)


def test_a_commitment_program_is_not_priced_with_another_programs_duals() -> None:
    """A spec with harms is solved as a commitment program; the full-deterrence program's
    multipliers describe another problem, so its account carries no prices."""
    spec = deter.load_spec(PROBLEMS / "becker_optimal_offences.toml")
    result = deter.solve(spec)
    assert result.status == "optimal" and result.duals is None
    explanation = explain(spec, result)
    assert not explanation.relaxations and explanation.relax_first is None


def test_a_non_paying_action_of_a_strongly_risk_seeking_agent_has_no_utility_share() -> None:
    """r = -900 and a gain 1.8 below complying: the program's need for 'low' is 0 (its utility
    exp(-1620) underflows), so there is no share of it to make up; explain once divided by it
    and ended with exit 5 (ZeroDivisionError)."""
    text = """\
version = 1
[agent]
risk_aversion = -900.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "low"
gain = -1.8
penalty_cap = 9.0
[[monitors]]
name = "m"
cost = 1.0
detects = { low = 0.3 }
"""
    account = explain(deter.loads(text).spec)
    (low,) = [a for a in account.actions if a.name == "low"]
    assert low.utility_share is None
