"""Variance-aware learner margins (issue 23 item 1 goal): ``[learner] bound = "bernstein"``.

The requirement M(P) is checked against its closed form, the margin's detection threshold p*
against the root of the quadratic it solves, and the guarantee by Monte Carlo: at a policy
that meets the Bernstein margin exactly, the share of learners whose n-sample mean of the
shortcut's reward reaches compliance's is at most delta, while the margin is smaller than
Hoeffding's at the low detection rates a least-cost policy has.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from deter.solver.model.learning import (
    bernstein_margin,
    bernstein_requirement,
    hoeffding_margin,
)

from tests.model.test_learning import _violation


def test_the_requirement_is_the_closed_form_and_never_above_hoeffding() -> None:
    cap, ffp, p0, noise, n, confidence = 20.0, 1.0, 0.03, 0.5, 1000, 0.9
    log = math.log(1 / (1 - confidence))
    hoeffding = hoeffding_margin(np.array([cap]), ffp, noise, n, confidence)[0]
    for p in (0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0):
        variance = cap**2 * p * (1 - p) + ffp**2 * p0 * (1 - p0) + 2 * noise**2
        bernstein = math.sqrt(2 * variance * log / n) + (cap * p + ffp * (1 - p0)) * log / (3 * n)
        got = float(bernstein_requirement(p, cap, ffp, p0, noise, n, confidence))
        assert got == pytest.approx(min(bernstein, hoeffding), rel=1e-12)
        assert got <= hoeffding
    # at small detection the variance is far below the range's: the margin is much smaller
    small = float(bernstein_requirement(0.05, cap, ffp, p0, noise, n, confidence))
    assert small < 0.6 * hoeffding


@pytest.mark.parametrize(
    ("gap", "cap", "n", "confidence"),
    [(3.0, 20.0, 3000, 0.98), (1.0, 20.0, 500, 0.95), (0.2, 4.0, 10_000, 0.9)],
)
def test_the_threshold_is_the_root_of_its_quadratic(
    gap: float, cap: float, n: int, confidence: float
) -> None:
    """No noise, no false flags: F p - gap = F sqrt(a p (1-p)) + c F p with a = 2L/n and
    c = L/(3n); squaring gives p^2 F^2 ((1-c)^2 + a) - p (2 F (1-c) gap + F^2 a) + gap^2 = 0,
    whose larger root is p* (where F p (1-c) >= gap)."""
    log = math.log(1 / (1 - confidence))
    a, c = 2 * log / n, log / (3 * n)
    qa = cap**2 * ((1 - c) ** 2 + a)
    qb = -(2 * cap * (1 - c) * gap + cap**2 * a)
    qc = gap**2
    p_star = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    margin = bernstein_margin(gap, cap, 0.0, 0.0, 0.0, n, confidence)
    assert margin == pytest.approx(cap * p_star - gap, rel=1e-9)
    assert margin < hoeffding_margin(np.array([cap]), 0.0, 0.0, n, confidence)[0]


def test_a_shortcut_no_detection_can_deter_keeps_an_unmeetable_margin() -> None:
    """gap 25 > cap 20: even P = 1 leaves the shortcut ahead; the margin exceeds what any
    policy gives (F - gap < m), so the program is infeasible, as it must be."""
    m = bernstein_margin(25.0, 20.0, 0.0, 0.0, 0.0, 100, 0.9)
    assert m > 20.0 * 1.0 - 25.0


def test_a_shortcut_that_loses_even_undetected_needs_no_detection() -> None:
    """gap -5 with a small requirement: h(P) >= 0 for every P, so P = 0 meets the margin."""
    m = bernstein_margin(-5.0, 1.0, 0.0, 0.0, 0.0, 10_000, 0.9)
    assert m <= 1.0 * 0.0 - (-5.0)


@pytest.mark.parametrize(
    ("gap", "cap", "ffp", "p0", "noise", "n", "confidence"),
    [
        (3.0, 20.0, 1.0, 0.003, 0.0, 3000, 0.98),  # the coding agent's reward hack
        (0.8, 20.0, 0.0, 0.0, 0.0, 3000, 0.95),  # a cheap shortcut: detection near 5%
        (1.0, 4.0, 2.0, 0.2, 1.5, 200, 0.8),  # noisy rewards, few samples
        (0.05, 10.0, 0.0, 0.0, 0.0, 40, 0.7),  # very few samples (discrete means)
    ],
)
def test_at_the_bernstein_margin_a_learner_prefers_the_shortcut_at_most_delta_of_the_time(
    gap: float, cap: float, ffp: float, p0: float, noise: float, n: int, confidence: float
) -> None:
    margin = bernstein_margin(gap, cap, ffp, p0, noise, n, confidence)
    # the detection at which the shortcut trails compliance by exactly the margin:
    # gap - F p + m = -F_fp P_0
    p = (gap + ffp * p0 + margin) / cap
    assert 0 < p <= 1
    delta = 1 - confidence
    measured = _violation(gap, cap, p, ffp, p0, noise, n, trials=200_000)
    assert measured <= delta
    # the bound is not vacuous: at half the margin the learner errs more often
    half = (gap + ffp * p0 + margin / 2) / cap
    assert _violation(gap, cap, half, ffp, p0, noise, n, trials=200_000) > measured


def test_the_smallest_margins_are_below_the_requirement_at_every_rate() -> None:
    """The relaxation's margins (engine/learner.py proves infeasibility with them) never
    exceed M(P, P_0) at any detection P or false-flag rate P_0, with or without a horizon's
    payment probability."""
    from deter.solver.model.learning import smallest_margins

    grid = np.linspace(0.0, 1.0, 41)
    for cap, ffp, noise, n, confidence, paid in [
        (20.0, 1.0, 0.5, 300, 0.95, 1.0),
        (4.0, 3.0, 0.0, 10, 0.99, 0.8),
        (10.0, 0.0, 2.0, 2, 0.999, 1.0),
    ]:
        (low,) = smallest_margins(np.array([cap]), noise, n, confidence, paid)
        for p0 in grid:
            need = bernstein_requirement(grid, cap, ffp, p0, noise, n, confidence, paid)
            assert np.all(low <= need + 1e-15)
        # ... and it is attained (not a vacuous 0) where P_0 = 0 costs nothing
        exact = bernstein_requirement(grid, cap, 0.0, 0.0, noise, n, confidence, paid)
        assert low == pytest.approx(float(exact.min()), rel=1e-12)
