"""solver/model/utility.py: CARA utility and the certainty equivalent (closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
from deter.solver.model.utility import certainty_equivalent, expected_utility


def test_risk_neutral_certainty_equivalent_is_the_expected_money() -> None:
    assert certainty_equivalent(3.0, 10.0, 0.25, 0.0) == pytest.approx(3.0 - 2.5)


@pytest.mark.parametrize("r", [0.5, -0.5, 2.0])
def test_it_inverts_the_expected_utility(r: float) -> None:
    """u(CE) = EU, with u(w) = (1 - exp(-r w)) / r, where the direct form is in range."""
    gain, penalty, caught = 1.5, 4.0, 0.3
    ce = float(certainty_equivalent(gain, penalty, caught, r))
    eu = float(expected_utility(gain, penalty, caught, r))
    assert (1 - np.exp(-r * ce)) / r == pytest.approx(eu, rel=1e-12)


def test_sure_outcomes_are_their_own_certainty_equivalent() -> None:
    assert certainty_equivalent(-19410.3, 28.7, 0.0, 2.4) == pytest.approx(-19410.3, rel=1e-15)
    assert certainty_equivalent(2.0, 5.0, 1.0, 2.4) == pytest.approx(-3.0, rel=1e-15)


def test_finite_where_the_direct_form_overflows() -> None:
    """exp(-r g) = exp(46,600) overflows; the log-sum-exp does not (issue 12: no null)."""
    ce = certainty_equivalent(np.array([-19410.3, 0.2]), np.array([28.7, 1e4]), 0.5, 2.4)
    assert np.all(np.isfinite(ce))
    # Caught half the time with a penalty of 1e4: the agent values it at about
    # g - F + ln(2) / r for a risk-averse agent.
    assert ce[1] == pytest.approx(0.2 - 1e4 + np.log(2) / 2.4, rel=1e-12)
