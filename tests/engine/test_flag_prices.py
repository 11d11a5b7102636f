"""Shadow prices of exponential detection with false flags (issue 20): the multipliers of
the restriction at the answer's P_0 tangent, given only when certified
(``flag_search.certified_prices``, docs/model.md "Shadow prices of these answers")."""

from __future__ import annotations

import math
from dataclasses import replace

import deter
import mpmath
import numpy as np
import pytest
from deter.solver.engine import flag_search
from deter.solver.engine.flag_search import Incumbent, Prices, certified_prices
from deter.solver.engine.verify import verify_policy
from deter.solver.model.arrays import ProblemArrays

from tests.support.flag_oracle import CARA, TIE, oracle
from tests.support.vocabulary import generate


def test_the_tie_is_priced_at_its_closed_form() -> None:
    # 9 (1 - 10^-x) >= g: x = -log10(1 - g / 9), dx/dg = 1 / (9 ln 10 10^-x) = 6 / (9 ln 10)
    result = deter.solve(deter.loads(TIE.format(gain=7.5)))
    assert result.status == "optimal"
    assert any("restriction at the answer" in line for line in result.attempts)
    exact = float(6 / (9 * mpmath.log(10)))
    assert result.action("cheat").shadow_price == pytest.approx(exact, rel=1e-6)


def test_a_cara_price_is_the_slope_of_the_exact_least_cost() -> None:
    """The oracle (mpmath bisection, imports nothing of deter) at gain +- h."""
    result = deter.solve(deter.loads(CARA.toml()))
    assert result.status == "optimal"
    h = 1e-5
    up = oracle(replace(CARA, gains=(0.0, 2.282 + h))).cost
    down = oracle(replace(CARA, gains=(0.0, 2.282 - h))).cost
    assert up is not None and down is not None
    slope = (up - down) / (2 * h)
    assert result.action("d0").shadow_price == pytest.approx(slope, rel=1e-4)


def test_an_action_that_does_not_pay_has_no_price() -> None:
    """exponential_fp-8: a0 pays less than complying (its row holds nothing); the node's
    multiplier of that row was 1.36, reported as a price of 0.51 and binding."""
    result = deter.solve(deter.loads(generate("exponential_fp", 8, False).text))
    assert result.status == "optimal"
    a0 = result.action("a0")
    assert a0.shadow_price == 0.0 and not a0.binding
    assert result.action("a1").shadow_price > 0


def test_a_policy_that_is_not_the_least_cost_is_not_priced() -> None:
    arrays = ProblemArrays.for_design(deter.load_spec(TIE.format(gain=7.5)))
    rates = np.asarray(arrays.max_rate, dtype=float)  # deters, at more than the least cost
    cost = float(arrays.cost @ rates)
    verification = verify_policy(arrays, rates, cost)
    assert verification.passed
    prices = certified_prices(arrays, Incumbent(rates, cost, verification))
    assert prices.shadow is None and "not the answer's" in prices.reason


def test_prices_that_fail_their_check_are_null_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        flag_search, "certified_prices", lambda arrays, best: Prices(None, "a test's reason")
    )
    result = deter.solve(deter.loads(TIE.format(gain=7.5)))
    assert result.status == "optimal"  # the least cost stands; only its prices are withheld
    shadow = result.action("cheat").shadow_price
    assert shadow is None or math.isnan(shadow)
    assert result.to_dict(timing=False)["actions"][1]["shadow_price"] is None
    assert any("not certified (a test's reason)" in note for note in result.notes)
    assert not any("float64" in note for note in result.notes)


@pytest.mark.parametrize("seed", [85, 86])
def test_the_core_program_prices_no_slack_row(seed: int) -> None:
    """exponential_fp-85 and -86, answered by the core exponential program at rate 0: the
    non-paying a0 (slack by 1.1 at the answer) was priced at 0.157 and 1.12 and shown as
    binding (degenerate duals: its row held by a detection variable below its cone);
    raising its gain by 1e-4 leaves the least cost at 0."""
    result = deter.solve(deter.loads(generate("exponential_fp", seed, False).text))
    assert result.status == "optimal" and result.total_cost == 0.0
    a0 = result.action("a0")
    assert a0.shadow_price == 0.0 and not a0.binding
