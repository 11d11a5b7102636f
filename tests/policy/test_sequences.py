"""Anytime-valid drift alarms: closed forms, validity under repeated looks, power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deter.solver.policy.sequences import bernoulli_log_evidence, mean_radius
from scipy.special import betaln


def test_bernoulli_evidence_is_the_beta_mixture_likelihood_ratio() -> None:
    k, n, p0 = 7, 40, 0.3
    expected = betaln(0.5 + k, 0.5 + n - k) - betaln(0.5, 0.5) - k * math.log(p0)
    expected -= (n - k) * math.log(1 - p0)
    assert bernoulli_log_evidence(k, n, p0) == pytest.approx(expected, rel=1e-12)
    assert bernoulli_log_evidence(0, 0, 0.3) == 0.0
    assert bernoulli_log_evidence(1, 10, 0.0) == math.inf  # the design ruled it out
    assert bernoulli_log_evidence(0, 10, 0.0) < 0.0
    assert bernoulli_log_evidence(9, 10, 1.0) == math.inf


def test_mean_radius_closed_form() -> None:
    n, h, alpha, rho = 100, 0.5, 0.01, 10.0
    v = h * h
    expected = math.sqrt((n * v + rho) * math.log((n * v + rho) / (rho * alpha**2))) / n
    assert mean_radius(n, h, alpha, rho) == pytest.approx(expected, rel=1e-12)
    assert mean_radius(0, h, alpha) == math.inf and mean_radius(10, 0.0, alpha) == 0.0


def test_a_rate_as_designed_rarely_ever_alarms_however_often_it_is_checked() -> None:
    """Seeded: 400 runs of 4,000 Bernoulli(0.05) trials, checked after every trial; at
    alpha = 0.05 the share of runs that ever alarm must be at most alpha (+3 SE). A fixed
    two-sided z-test at 5% checked this often alarms in most runs."""
    rng = np.random.default_rng(11)
    p0, alpha, runs, steps = 0.05, 0.05, 400, 4000
    counts = np.cumsum(rng.random((runs, steps)) < p0, axis=1)
    n = np.arange(1, steps + 1)
    log_m = (
        betaln(0.5 + counts, 0.5 + n - counts)
        - betaln(0.5, 0.5)
        - counts * math.log(p0)
        - (n - counts) * math.log1p(-p0)
    )
    ever = (log_m >= math.log(1 / alpha)).any(axis=1).mean()
    assert ever <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    z = (counts / n - p0) / np.sqrt(p0 * (1 - p0) / n)
    assert (np.abs(z[:, 50:]) > 1.96).any(axis=1).mean() > 0.3  # the naive check, for contrast
    # and the evidence function agrees with the vectorised form
    assert bernoulli_log_evidence(int(counts[0, -1]), steps, p0) == pytest.approx(log_m[0, -1])


def test_a_halved_rate_is_found() -> None:
    rng = np.random.default_rng(12)
    hits = int((rng.random(3000) < 0.025).sum())  # designed 0.05, real 0.025
    assert bernoulli_log_evidence(hits, 3000, 0.05) > math.log(1e3)
