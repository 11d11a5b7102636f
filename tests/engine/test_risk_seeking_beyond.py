"""Risk-seeking agents beyond the old load-time limit of |r| x gain = 700, and commitment
programs' rows at the solvers' tolerance (issue 20 item 6): each spec below was solver_error,
or a RuntimeWarning in explain, before; each answer is judged against the exact reference
(mpmath), with every RuntimeWarning (an overflow anywhere) raised as an error."""

from __future__ import annotations

import warnings
from pathlib import Path

import deter
import pytest

from tests.support.exact_reference import judge
from tests.support.reference import spec_text

DATA = Path(__file__).resolve().parent / "data"
#: ``m`` catches both deviations and flags compliance; ``n`` only skims.
TWO_MONITORS = [
    {"name": "m", "cost": 1.0, "detects": {"cheat": 0.9, "skim": 0.3}, "false_positive": 0.05},
    {"name": "n", "cost": 2.5, "detects": {"skim": 0.8}},
]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        # untyped: need 1 - e^-264, 1.0 in binary64; the certificate read the room it leaves
        # for false flags as 1 - need = 0 and held no proof
        ("seeking_need_rounds_to_one", "infeasible"),
        # typed: only P = 1 deters (|r| g = 3,893); the solvers stop at Q x = 1 - 3e-10,
        # the repair closes it to Q x >= 1
        ("seeking_typed_caught_surely", "optimal"),
        # fixed costs (a MILP): Q x is 1.0 in float but below 1 exactly, and the row's
        # slope in P is e^2313 times its terms, beyond float range
        ("seeking_fixed_cost_caught_surely", "optimal"),
        # typed: a row met at every policy with a coefficient of 7e-82 gave the
        # certificate's LPs a bound of -1e81 and no proof
        ("seeking_typed_tiny_row", "infeasible"),
        # commitment units, risk neutral: a tie of equal gains that no deployed monitor
        # moves next to a row met in float but not exactly; the repair asked room of both
        ("fixed_cost_tie_at_zero", "optimal"),
        # risk averse, min_loss: an action nothing detects pays more than complying; proven
        # in closed form (infeasibility.uncaught_pays), its need e^-3242 being 0 in the rows
        ("averse_uncaught_pays", "optimal"),
    ],
)
def test_beyond_the_old_limit_is_decided_and_right(name: str, status: str) -> None:
    text = (DATA / f"{name}.toml").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = deter.solve(deter.loads(text)).to_dict(timing=False)
    assert result["status"] == status, result.get("message")
    verdict = judge(text, result)
    assert not verdict.failures, verdict.failures
    if status == "optimal":
        assert verdict.reference.status == "optimal"


def test_explain_finds_the_rate_fix_of_an_agent_beyond_exp_range() -> None:
    """|r| g = 4,500: the detection that deters is 1 - e^-4500, so the fix is a ceiling of 1;
    explain divided two overflowed numbers (inf / inf) before and found none."""
    text = """\
version = 1
[agent]
risk_aversion = -900.0
penalty_cap = 30.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 5.0
[[monitors]]
name = "m"
cost = 1.0
detects = { cheat = 1.0 }
max_rate = 0.9
"""
    problem = deter.loads(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        explanation = problem.explain()
    assert problem.solve().status == "infeasible"
    assert "Set monitors.m.max_rate to 1 (now 0.9)" in str(explanation)


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("factor", [1e3, 1e6])
def test_risk_aversion_beyond_the_old_limit_of_1e3_gives_the_scaled_problems_answer(
    sign: float, factor: float
) -> None:
    """|r| up to 1e9 (the limit was 1e3): r x K with every amount the agent sees divided by
    K is the same problem (only r x money enters CARA preferences), so the same policy and
    cost, risk averse and risk seeking, typed."""

    def text(k: float) -> str:
        return spec_text(
            [
                {"name": "ok", "gain": 0.0},
                {"name": "cheat", "gain": 3.0 / k},
                {"name": "skim", "gain": 1.5 / k, "penalty_cap": 10.0 / k},
            ],
            TWO_MONITORS,
            agent={
                "risk_aversion": sign * 0.5 * k,
                "penalty_cap": 20.0 / k,
                "false_positive_penalty": 0.4 / k,
            },
            types=[
                {"name": "bold", "weight": 0.6},
                {
                    "name": "meek",
                    "weight": 0.4,
                    "risk_aversion": sign * 0.2 * k,
                    "gains": {"cheat": 2.0 / k},
                },
            ],
            version=1,
        )

    base = deter.solve(deter.loads(text(1.0))).to_dict(timing=False)
    scaled_text = text(factor)
    scaled = deter.solve(deter.loads(scaled_text)).to_dict(timing=False)
    assert base["status"] == scaled["status"] == "optimal", scaled.get("message")
    assert scaled["total_cost"] == pytest.approx(base["total_cost"], rel=1e-7)
    assert not judge(scaled_text, scaled).failures
