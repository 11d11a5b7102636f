"""Long horizons (issue 23 item 2): the present value of a delayed penalty in the design.

kappa = (discount x retention)^audit_delay; a risk-neutral agent is deterred when
g_i - kappa P_i F_i <= g_0 - kappa P_0 F_fp - margin, which is the one-step program with
gains and margin divided by kappa. Checked against the closed form (one monitor), against
the same spec without [horizon] and gains divided by kappa, and for the refusals. The
model against Monte Carlo of the long-horizon env is tests/rl/test_long_env.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import deter
import numpy as np
import pytest
from deter.solver.model.arrays import ProblemArrays
from deter.solver.model.horizon import penalty_discount, present_value_factor
from deter.solver.model.learning import learner_margins
from deter.solver.results.errors import SpecError

SPEC = """
[agent]
penalty_cap = 20.0
false_positive_penalty = 1.0
{agent}
[[actions]]
name = "honest"
gain = {g0}

[[actions]]
name = "hack"
gain = {g1}

[[actions]]
name = "tamper"
gain = {g2}
penalty_cap = 10.0

[[monitors]]
name = "judge"
cost = 0.1
detects = {{ hack = 0.9, tamper = 0.5 }}
false_positive = 0.03

[[monitors]]
name = "review"
cost = 2.0
max_rate = 0.5
detects = {{ hack = 1.0, tamper = 1.0 }}
"""

HORIZON = "\n[horizon]\ndiscount = {gamma}\naudit_delay = {d}\nretention = {rho}\n"


def spec(g: tuple[float, float, float] = (0.0, 3.0, 4.0), agent: str = "", **h: float) -> str:
    text = SPEC.format(agent=agent, g0=g[0], g1=g[1], g2=g[2])
    return text + (HORIZON.format(**h) if h else "")


def test_kappa_is_the_discounted_chance_the_agent_is_there() -> None:
    problem = deter.loads(spec(gamma=0.9, d=3, rho=0.8))
    assert present_value_factor(problem.spec) == pytest.approx((0.9 * 0.8) ** 3)
    assert penalty_discount(problem.spec) == pytest.approx(0.9**3)
    plain = deter.loads(spec())
    assert present_value_factor(plain.spec) == 1.0 == penalty_discount(plain.spec)
    # no delay: a penalty at once is worth itself, whatever the discount
    assert present_value_factor(deter.loads(spec(gamma=0.5, d=0, rho=0.5)).spec) == 1.0


def test_one_monitor_needs_the_closed_form_rate() -> None:
    text = """
[agent]
penalty_cap = 20.0
[[actions]]
name = "honest"
gain = 0.0
[[actions]]
name = "hack"
gain = 3.0
[[monitors]]
name = "audit"
cost = 1.0
detects = { hack = 0.9 }
"""
    for gamma, d, rho in [(0.9, 2, 0.95), (1.0, 5, 0.9), (0.99, 10, 1.0)]:
        kappa = (gamma * rho) ** d
        result = deter.loads(text + HORIZON.format(gamma=gamma, d=d, rho=rho)).solve()
        assert result.status == "optimal"
        # kappa x 0.9 x rate x 20 = 3: the rate that makes the delayed penalty deter
        assert result.monitor("audit").rate == pytest.approx(3.0 / (kappa * 0.9 * 20.0), rel=1e-6)
        hack = result.action("hack")
        assert hack.gain == 3.0 and hack.penalty == 20.0  # the spec's, not scaled
        assert hack.net_incentive == pytest.approx(0.0, abs=1e-6)
        # d cost / d gain at the act: 1 / (kappa 0.9 20)
        assert hack.shadow_price == pytest.approx(1.0 / (kappa * 18.0), rel=1e-6)


@pytest.mark.parametrize(("gamma", "d", "rho"), [(0.95, 4, 0.95), (0.8, 1, 1.0), (1.0, 3, 0.85)])
def test_it_is_the_one_step_program_with_gains_divided_by_kappa(
    gamma: float, d: int, rho: float
) -> None:
    kappa = (gamma * rho) ** d
    margin = "margin = 0.3\n"
    delayed = deter.loads(spec(agent=margin, gamma=gamma, d=d, rho=rho)).solve()
    scaled_text = spec(g=(0.0, 3.0 / kappa, 4.0 / kappa), agent=f"margin = {0.3 / kappa!r}\n")
    scaled = deter.loads(scaled_text).solve()
    assert delayed.status == scaled.status == "optimal"
    assert delayed.total_cost == pytest.approx(scaled.total_cost, rel=1e-7)
    for name in ("judge", "review"):
        assert delayed.monitor(name).rate == pytest.approx(scaled.monitor(name).rate, abs=1e-7)
    # and it costs more than the same spec with penalties at once
    at_once = deter.loads(spec(agent=margin)).solve()
    assert delayed.total_cost > at_once.total_cost
    # net incentives are in money at the act: the present value of each delayed penalty
    by_name = {a.name: a for a in delayed.actions}
    honest = by_name["honest"]
    for name, gain in (("hack", 3.0), ("tamper", 4.0)):
        a = by_name[name]
        pv = gain - kappa * a.detection * a.penalty - (-kappa * honest.detection * honest.penalty)
        assert a.net_incentive == pytest.approx(pv, abs=1e-7)
        assert a.net_incentive <= -0.3 + 1e-6  # the margin holds at the act


def test_the_design_arrays_carry_the_scaling_and_simulation_keeps_the_gains() -> None:
    problem = deter.loads(spec(gamma=0.9, d=2, rho=0.9))
    kappa = 0.81**2
    design = ProblemArrays.for_design(problem.spec)
    assert design.gain.tolist() == pytest.approx([0.0, 3.0 / kappa, 4.0 / kappa])
    assert design.present_value == pytest.approx(kappa)
    assert design.stated_gain.tolist() == [0.0, 3.0, 4.0]
    assert ProblemArrays.from_spec(problem.spec).gain.tolist() == [0.0, 3.0, 4.0]


def test_a_learners_margin_uses_the_discounted_penalty() -> None:
    learner = "\n[learner]\nsamples = 500\nconfidence = 0.9\n"
    delayed = deter.loads(spec(gamma=0.9, d=2, rho=0.5) + learner).spec
    at_once = deter.loads(spec() + learner).spec
    # ranges 20 and 10, false flag 1, all times gamma^d = 0.81: the margin scales with them
    assert learner_margins(delayed) == pytest.approx(0.81 * learner_margins(at_once))
    kappa = (0.9 * 0.5) ** 2
    design = ProblemArrays.for_design(delayed)
    assert design.gain[1:] == pytest.approx(
        (np.array([3.0, 4.0]) + learner_margins(delayed)[1:]) / kappa
    )


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("\n[horizon]\ndiscount = 0.0\n", "horizon.discount"),
        ("\n[horizon]\ndiscount = 1.5\n", "horizon.discount"),
        ("\n[horizon]\nretention = 0\n", "horizon.retention"),
        ("\n[horizon]\nretention = -0.5\n", "horizon.retention"),
        ("\n[horizon]\naudit_delay = -1\n", "horizon.audit_delay"),
        ("\n[horizon]\naudit_delay = 2.5\n", "horizon.audit_delay"),
        ("\n[horizon]\ndelay = 2\n", "horizon.delay"),
        ("\n[horizon]\ndiscount = 0.5\naudit_delay = 100\n", "horizon.audit_delay"),
    ],
)
def test_a_bad_horizon_is_a_spec_error_naming_its_key(extra: str, key: str) -> None:
    with pytest.raises(SpecError) as caught:
        deter.loads(spec() + extra)
    assert key in str(caught.value)


def test_a_risk_averse_agent_with_a_horizon_is_refused_with_the_reason() -> None:
    text = spec(agent="risk_aversion = 0.1\n", gamma=0.9, d=2, rho=1.0)
    with pytest.raises(SpecError) as caught:
        deter.loads(text)
    assert "agent.risk_aversion" in str(caught.value) and "horizon" in str(caught.value)


def test_the_cli_names_file_line_and_key(tmp_path: Path) -> None:
    from deter.cli.app import app
    from typer.testing import CliRunner

    path = tmp_path / "long.toml"
    path.write_text(spec() + "\n[horizon]\ndiscount = 0.5\naudit_delay = 100\n")
    out = CliRunner().invoke(app, ["solve", str(path)])
    assert out.exit_code == 2
    assert "long.toml:" in out.output and "horizon.audit_delay" in out.output
    assert math.isclose(0.5**100, 7.9e-31, rel_tol=0.01)  # the value the message reports
    assert "7.89e-31" in out.output
