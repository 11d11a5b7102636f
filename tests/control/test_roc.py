"""ROC fitting against hand-computed curves and closed-form bands (solver/control/roc.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deter.solver.control.roc import (
    auc,
    band_width,
    common_envelope,
    exceed_rate,
    fit_curve,
    samples_for_width,
)
from deter.solver.control.synthetic import true_exceed


def test_band_width_is_massarts_one_sided_dkw() -> None:
    assert band_width(100, 0.05) == pytest.approx(math.sqrt(math.log(20) / 200))
    assert band_width(0, 0.05) == math.inf
    n = samples_for_width(0.05, 0.01)
    assert band_width(n, 0.01) <= 0.05 < band_width(n - 1, 0.01)
    with pytest.raises(ValueError):
        band_width(10, 0.7)  # Massart's constant holds for delta <= 1/2


def test_exceed_rate_and_auc_by_hand() -> None:
    h = np.array([0.0, 1.0, 2.0, 3.0])
    assert exceed_rate(h, np.array([3.0, 2.5, 0.0, 9.0])).tolist() == [0.25, 0.25, 1.0, 0.0]
    # pairs (attack, honest): (1, 0) 1, (1, 1) 1/2, (2, 0) 1, (2, 1) 1 -> 3.5 / 4
    assert auc(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == 0.875


def test_empirical_curve_is_the_hull_of_the_operating_points() -> None:
    honest = np.array([0.0, 1.0, 2.0, 3.0])
    attack = np.array([2.0, 3.0, 3.0, 4.0])
    curve = fit_curve("m", honest, {"cheat": attack})
    # thresholds 4, 3, 2, 1, 0 give (0, .25), (.25, .75), (.5, 1), (.75, 1), (1, 1); the hull
    # keeps 4, 3, 2 and flag-everything (-inf)
    assert curve.thresholds.tolist() == [4.0, 3.0, 2.0, -math.inf]
    assert curve.fpr.tolist() == [0.0, 0.25, 0.5, 1.0]
    assert curve.tpr["cheat"].tolist() == [0.25, 0.75, 1.0, 1.0]
    assert curve.eps_honest == 0.0
    # attack 2 beats 0, 1 and ties 2: 2.5; each 3 beats three and ties one: 3.5; 4 beats all
    assert curve.auc["cheat"] == (2.5 + 2 * 3.5 + 4) / 16
    # rate 0.125: half the time threshold 4, half threshold 3
    assert curve.thresholds_for(0.125) == (4.0, 3.0, 0.5)
    assert curve.detection("cheat", 0.125) == 0.5


def test_one_envelope_for_every_action_drops_what_any_action_would_mix_past() -> None:
    fpr = np.array([0.0, 0.2, 0.4, 1.0])
    a = [0.0, 0.5, 0.6, 1.0]  # alone, its hull keeps 0.2 and drops 0.4
    b = [0.0, 0.3, 0.8, 1.0]  # alone, its hull drops 0.2
    assert common_envelope(fpr, np.column_stack([a, b])).tolist() == [0, 2, 3]
    assert common_envelope(fpr, np.column_stack([a])).tolist() == [0, 1, 3]
    kept = common_envelope(fpr, np.column_stack([a, b]))
    for column in (a, b):  # each action's interpolation over the chain is concave
        y = np.asarray(column)[kept]
        slopes = np.diff(y) / np.diff(fpr[kept])
        assert np.all(np.diff(slopes) <= 0)


def test_band_is_the_pessimistic_edge_and_keeps_exact_endpoints() -> None:
    rng = np.random.default_rng(0)
    honest, attack = rng.normal(0, 1, 400), rng.normal(2, 1, 100)
    plain = fit_curve("m", honest, {"a": attack})
    banded = fit_curve("m", honest, {"a": attack}, delta=0.05)
    eps_h, eps_a = band_width(400, 0.05), band_width(100, 0.05)
    assert banded.eps_honest == eps_h and banded.eps_attack["a"] == eps_a
    assert (banded.fpr[0], banded.tpr["a"][0]) == (0.0, 0.0)
    assert (banded.fpr[-1], banded.tpr["a"][-1]) == (1.0, 1.0)
    inner = slice(1, -1)
    assert np.allclose(banded.fpr[inner], np.minimum(1, banded.fpr_empirical[inner] + eps_h))
    assert np.allclose(
        banded.tpr["a"][inner], np.maximum(0, banded.tpr_empirical["a"][inner] - eps_a)
    )
    grid = np.linspace(0, 1, 101)
    assert all(banded.detection("a", x) <= plain.detection("a", x) + 1e-12 for x in grid)
    assert all(banded.detection("a", x) >= x - 1e-12 for x in grid)  # never below random audit


def test_bands_cover_the_true_curve_at_least_as_often_as_promised() -> None:
    """Seeded: 300 draws of the bundled example's trajectory monitor; with delta = 0.1 per
    distribution the designed points must lie under the true curve in >= 1 - 2 delta of draws
    (union of the two bands), with room for the binomial error of 300 draws."""
    rng = np.random.default_rng(7)
    failures = 0
    draws = 300
    for _ in range(draws):
        honest = rng.normal(0.0, 1.0, 200)
        attack = rng.normal(1.2, 1.1, 80)
        curve = fit_curve("trajectory_monitor", honest, {"insert_backdoor": attack}, 0.1)
        true_fpr = [true_exceed("trajectory_monitor", "honest", t) for t in curve.thresholds]
        true_tpr = [
            true_exceed("trajectory_monitor", "insert_backdoor", t) for t in curve.thresholds
        ]
        if np.any(np.asarray(true_fpr) > curve.fpr + 1e-12) or np.any(
            np.asarray(true_tpr) < curve.tpr["insert_backdoor"] - 1e-12
        ):
            failures += 1
    assert failures / draws <= 0.2 + 3 * math.sqrt(0.2 * 0.8 / draws)


def test_binomial_band_bounds_are_the_binomial_quantiles() -> None:
    from deter.solver.control.roc import binomial_grid, rate_lower, rate_upper
    from scipy.stats import binom

    n, delta = 200, 0.05
    levels = binomial_grid(n)
    each = delta / len(levels)
    counts = np.arange(0, n + 1)
    upper = rate_upper(counts.astype(float), n, delta)
    lower = rate_lower(counts.astype(float), n, delta)
    for m in (0, 3, 40, 199):
        # the least level at which m or fewer samples are rarer than delta / K
        below = [p for p in levels if binom.cdf(m, n, p) < each]
        assert upper[m] == (min(below) if below else 1.0)
        # the greatest level at which m or more samples are rarer than delta / K
        above = [p for p in levels if binom.sf(m - 1, n, p) < each]
        assert lower[m] == (max(above) if above else 0.0)
    assert np.all(np.diff(upper) >= 0) and np.all(np.diff(lower) >= 0)
    assert np.all(lower <= counts / n) and np.all(counts / n <= upper)


def test_binomial_bands_cover_a_tied_integer_monitor_as_promised() -> None:
    """Seeded: 300 draws of the bundled integer monitor (scores tie heavily); the binomial
    band's points must lie on the safe side of the true curve in >= 1 - 2 delta of draws."""
    rng = np.random.default_rng(8)
    failures, draws, delta = 0, 300, 0.1
    for _ in range(draws):
        honest = np.clip(np.round(2.0 + 1.5 * rng.standard_normal(300)), 0, 10)
        attack = np.clip(np.round(2.0 + 1.5 * (rng.standard_normal(100) + 1.8)), 0, 10)
        curve = fit_curve("basic_monitor", honest, {"insert_backdoor": attack}, delta, "binomial")
        true_fpr = np.array([true_exceed("basic_monitor", "honest", t) for t in curve.thresholds])
        true_tpr = np.array(
            [true_exceed("basic_monitor", "insert_backdoor", t) for t in curve.thresholds]
        )
        if np.any(true_fpr > curve.fpr + 1e-12) or np.any(
            true_tpr < curve.tpr["insert_backdoor"] - 1e-12
        ):
            failures += 1
    assert failures / draws <= 2 * delta + 3 * math.sqrt(2 * delta * (1 - 2 * delta) / draws)


def test_unknown_band() -> None:
    with pytest.raises(ValueError, match="band"):
        fit_curve("m", np.array([0.0]), {"a": np.array([1.0])}, 0.1, "wide")
