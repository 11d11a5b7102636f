"""Drift alarms valid at any stopping time: test martingales and confidence sequences.

A deployed policy is checked again and again (every ``check_every`` episodes, forever), so a
fixed-sample test at level alpha, repeated, cries wolf with probability approaching 1. The
alarms here are *anytime-valid*: each is a nonnegative martingale under "the quantity is as
designed", and by Ville's inequality it ever reaches 1/alpha with probability at most alpha,
however often it is looked at and whenever the run stops (Howard, Ramdas, McAuliffe and
Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
49(2)).

- **Rates** (a monitor's audit rate, a detection rate, the false-flag rate) are counts of
  Bernoulli events: the evidence against p = p0 after k events in n trials is the likelihood
  ratio mixed over a Beta(1/2, 1/2) prior (Jeffreys; Robbins 1970):
  ``M_n = B(1/2 + k, 1/2 + n - k) / B(1/2, 1/2) / (p0^k (1 - p0)^(n - k))``,
  a martingale under p0 that adapts to the variance p0 (1 - p0) (a rare event's rate drifts
  are found about as fast as the binomial's standard error allows).
- **Spend per episode** lies in [0, s_max]: its increments are sub-Gaussian with variance
  proxy (s_max / 2)^2 (Hoeffding), and the normal-mixture boundary (Howard et al., eq. 3.7
  with a N(0, 1/rho) mixture) gives the confidence sequence
  ``|mean_n - mu| <= sqrt((n v + rho) log((n v + rho) / (rho alpha^2))) / n``.

numpy-free (``math`` only), like the rest of the runtime.
"""

from __future__ import annotations

import math

#: The Beta prior of the mixture (Jeffreys).
PRIOR = 0.5


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def bernoulli_log_evidence(k: int, n: int, p0: float) -> float:
    """log M_n: the evidence against "P(event) = p0" after ``k`` events in ``n`` trials.

    Alarm when it reaches log(1/alpha). An event the design rules out (p0 = 0, or p0 = 1 and
    a non-event) is infinite evidence.
    """
    if n <= 0:
        return 0.0
    mixture = _log_beta(PRIOR + k, PRIOR + n - k) - _log_beta(PRIOR, PRIOR)
    if p0 <= 0.0:
        return math.inf if k > 0 else mixture
    if p0 >= 1.0:
        return math.inf if k < n else mixture
    return mixture - k * math.log(p0) - (n - k) * math.log1p(-p0)


def mean_radius(n: int, half_range: float, alpha: float, rho: float | None = None) -> float:
    """The half-width of an anytime-valid confidence sequence for the mean of ``n``
    observations in an interval of half-length ``half_range`` (level 1 - alpha).

    ``rho`` tunes where the sequence is tightest (by default near n = 500 observations).
    """
    if n <= 0:
        return math.inf
    v = half_range * half_range
    if v == 0.0:
        return 0.0
    rho = 500.0 * v if rho is None else rho
    width = (n * v + rho) * math.log((n * v + rho) / (rho * alpha * alpha))
    return math.sqrt(width) / n
