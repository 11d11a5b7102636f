"""A monitor's ROC from scores: operating points, a common concave envelope, confidence bands.

A monitor flags an episode when its suspicion score is at least a threshold t. Over honest
samples that is the false-positive rate FPR(t) (the monitor's *rate* in a spec: the fraction
of honest episodes flagged, and audited); over the samples of an attack kind it is that
action's detection TPR(t). Randomising between two thresholds reaches every point between
their operating points (docs/model.md, "Monitors described by ROC curves").

**One envelope for every action.** A monitor has one threshold, shared by every action, so
it cannot randomise between one pair of thresholds for one action and another pair for
another. The envelope kept here is a chain of thresholds that is concave for *every* action
at once (a monotone chain that drops a threshold when any action's point lies on or below
the chord of its neighbours): randomising between neighbours of the chain realises each
action's piecewise-linear curve exactly, and the solver's envelope of those points is the
curve itself. With one attack kind it is the usual ROC convex hull.

**Bands.** With n samples, the one-sided Dvoretzky-Kiefer-Wolfowitz inequality with Massart's
constant (Massart 1990, Ann. Probab. 18(3):1269-1283) gives, for delta <= 1/2,

    P( sup_t (F_n(t) - F(t)) > eps ) <= exp(-2 n eps^2),   eps = sqrt(ln(1/delta) / (2 n)),

simultaneously over every threshold, and the same for the other side. So with probability at
least 1 - delta every true FPR(t) <= FPR_n(t) + eps_h, and (for each attack kind, with its own
delta) every true TPR(t) >= TPR_n(t) - eps_a. The pessimistic curve (higher false-flag rate,
lower detection) is again a set of operating points whose chain is concave; a design that
deters against it deters against the truth on that event, and flags (and pays for) at most
its designed rate. The endpoints are exact: flag nothing is (0, 0), flag everything is (1, 1).

DKW's width is the same at every rate, which is loose where deterrence is cheapest (small
flag rates). ``band="binomial"`` uses binomial quantiles on a fixed grid of rate levels with
Bonferroni over the grid instead (:func:`rate_upper`, :func:`rate_lower`; valid for any
distribution, ties included), whose width near rate p is about sqrt(p ln(K/delta) / n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..model.envelope import randomised_thresholds

FloatArray = NDArray[np.float64]


def band_width(n: int, delta: float) -> float:
    """eps of the one-sided DKW band (Massart's constant) for n samples at level delta."""
    if not 0.0 < delta <= 0.5:
        raise ValueError(f"delta must be in (0, 0.5], not {delta}")
    return math.sqrt(math.log(1.0 / delta) / (2.0 * n)) if n > 0 else math.inf


def samples_for_width(width: float, delta: float) -> int:
    """The least n whose band is at most ``width`` wide at level delta."""
    return math.ceil(math.log(1.0 / delta) / (2.0 * width * width))


#: The simultaneous bands :func:`fit_curve` can put around the empirical rates.
BANDS = ("dkw", "binomial")


def binomial_grid(n: int) -> FloatArray:
    """The rate levels of the binomial band: geometric from 1/(20 n) (fine where flag rates
    are small, which is where deterrence is cheap) and every 0.005 above."""
    low = min(0.5, 1.0 / (20.0 * max(n, 1)))
    return np.unique(np.concatenate([np.geomspace(low, 1.0, 200), np.linspace(0.005, 1.0, 200)]))


def binomial_band(n: int, delta: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(levels p_j, lower counts L_j, upper counts H_j) of the binomial band, each with
    P(Bin(n, p_j) < L_j) <= delta / K and P(Bin(n, p_j) > H_j) <= delta / K (K levels)."""
    from scipy.stats import binom

    levels = binomial_grid(n)
    each = delta / len(levels)
    lower = binom.ppf(each, n, levels)
    upper = binom.ppf(1.0 - each, n, levels)
    return levels, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def rate_upper(counts: FloatArray, n: int, delta: float) -> FloatArray:
    """Simultaneous upper bounds on P(score >= t) from the counts at or above each t.

    Valid for any distribution, ties included: with t_j the largest threshold whose true
    rate is at least p_j, the events "at least L_j samples at or above t_j" (each failing
    with probability <= delta / K) imply that any t with fewer than L_j samples at or above
    it has a true rate below p_j. So the bound is the least p_j with L_j > count.
    """
    levels, lower, _ = binomial_band(n, delta)
    j = np.searchsorted(lower, counts, side="right")
    return np.where(j < len(levels), levels[np.minimum(j, len(levels) - 1)], 1.0)


def rate_lower(counts: FloatArray, n: int, delta: float) -> FloatArray:
    """Simultaneous lower bounds on P(score >= t): the greatest p_j with H_j < count (0 when
    none); the mirror of :func:`rate_upper` (any t whose true rate is at most p_j has at most
    as many samples at or above it as the threshold where the rate first drops to p_j)."""
    levels, _, upper = binomial_band(n, delta)
    j = np.searchsorted(upper, counts, side="left") - 1
    return np.where(j >= 0, levels[np.maximum(j, 0)], 0.0)


def exceed_rate(sorted_scores: FloatArray, thresholds: FloatArray) -> FloatArray:
    """The fraction of scores at or above each threshold (``sorted_scores`` ascending)."""
    n = len(sorted_scores)
    return np.asarray((n - np.searchsorted(sorted_scores, thresholds, side="left")) / n)


def auc(honest: FloatArray, attack: FloatArray) -> float:
    """ROC-AUC: P(attack score > honest score) + P(equal) / 2 (the Mann-Whitney statistic)."""
    h = np.sort(honest)
    below = np.searchsorted(h, attack, side="left")
    at_or_below = np.searchsorted(h, attack, side="right")
    return float(np.mean(below + 0.5 * (at_or_below - below)) / len(h))


@dataclass(frozen=True)
class MonitorCurve:
    """One monitor's fitted curve at the thresholds of its common envelope.

    ``thresholds`` descend from +inf (flag nothing) to -inf (flag everything); ``fpr`` and
    ``tpr[action]`` are the designed operating points there (the band's pessimistic edge when
    a band was fitted, else the empirical points); ``fpr_empirical`` / ``tpr_empirical`` are
    the sample rates at the same thresholds.
    """

    monitor: str
    thresholds: FloatArray
    fpr: FloatArray
    tpr: Mapping[str, FloatArray]
    fpr_empirical: FloatArray
    tpr_empirical: Mapping[str, FloatArray]
    n_honest: int
    n_attack: Mapping[str, int]
    eps_honest: float  # 0 without a band
    eps_attack: Mapping[str, float]
    auc: Mapping[str, float]

    def points(self, action: str) -> list[tuple[float, float]]:
        """The (fpr, tpr) points of one action, as a spec's ``roc`` lists them."""
        return [(float(x), float(y)) for x, y in zip(self.fpr, self.tpr[action], strict=True)]

    def detection(self, action: str, rate: float) -> float:
        """The designed detection at a flag rate (linear between the envelope's points)."""
        return float(np.interp(rate, self.fpr, self.tpr[action]))

    def thresholds_for(self, rate: float) -> tuple[float, float, float]:
        """How to flag at ``rate``: (high threshold, low threshold, probability of the high
        one). Randomising so realises the designed rate and detection."""
        return randomised_thresholds(self.fpr, self.thresholds, rate)

    def informative(self, action: str) -> bool:
        """Whether the curve beats random audits (detection = rate) anywhere."""
        return bool(np.any(self.tpr[action] > self.fpr + 1e-12))


def fit_curve(
    monitor: str,
    honest: FloatArray,
    attacks: Mapping[str, FloatArray],
    delta: float | None = None,
    band: str = "dkw",
) -> MonitorCurve:
    """Fit a monitor's curve from its honest and per-action attack scores (all finite).

    ``delta`` is the level of *each* band (the caller splits its overall delta); ``None``
    fits the empirical curve without a band. ``band``: ``dkw`` (the same width at every
    rate) or ``binomial`` (binomial quantiles on a grid of rates, Bonferroni over the grid:
    narrow where rates are small; :func:`rate_upper`).
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    h = np.sort(np.asarray(honest, dtype=float))
    sorted_attacks = {a: np.sort(np.asarray(s, dtype=float)) for a, s in attacks.items()}
    names = list(sorted_attacks)
    every = np.concatenate([h, *sorted_attacks.values()])
    inner = np.unique(every)[::-1]  # descending: stricter thresholds first
    thresholds = np.concatenate([[math.inf], inner, [-math.inf]])
    fpr_emp = np.concatenate([[0.0], exceed_rate(h, inner), [1.0]])
    tpr_emp = {
        a: np.concatenate([[0.0], exceed_rate(s, inner), [1.0]]) for a, s in sorted_attacks.items()
    }
    fpr = fpr_emp.copy()
    tpr = {a: tpr_emp[a].copy() for a in names}
    eps_h, eps_a = 0.0, dict.fromkeys(names, 0.0)
    if delta is not None and band == "dkw":
        eps_h = band_width(len(h), delta)
        fpr[1:-1] = np.minimum(1.0, fpr[1:-1] + eps_h)
        for a in names:
            eps_a[a] = band_width(len(sorted_attacks[a]), delta)
            tpr[a][1:-1] = np.maximum(0.0, tpr[a][1:-1] - eps_a[a])
    elif delta is not None:
        n_h = len(h)
        fpr[1:-1] = rate_upper(np.rint(fpr_emp[1:-1] * n_h), n_h, delta)
        eps_h = float(np.max(fpr - fpr_emp))
        for a in names:
            n_a = len(sorted_attacks[a])
            tpr[a][1:-1] = rate_lower(np.rint(tpr_emp[a][1:-1] * n_a), n_a, delta)
            eps_a[a] = float(np.max(tpr_emp[a] - tpr[a]))
    keep = common_envelope(fpr, np.column_stack([tpr[a] for a in names]))
    return MonitorCurve(
        monitor=monitor,
        thresholds=thresholds[keep],
        fpr=fpr[keep],
        tpr={a: tpr[a][keep] for a in names},
        fpr_empirical=fpr_emp[keep],
        tpr_empirical={a: tpr_emp[a][keep] for a in names},
        n_honest=len(h),
        n_attack={a: len(s) for a, s in sorted_attacks.items()},
        eps_honest=eps_h,
        eps_attack=eps_a,
        auc={a: auc(h, s) for a, s in sorted_attacks.items()},
    )


def common_envelope(fpr: FloatArray, tpr: FloatArray) -> NDArray[np.int64]:
    """Indices of a chain of operating points concave for every column of ``tpr`` at once.

    ``fpr`` is non-decreasing and each column of ``tpr`` (points x actions) non-decreasing
    along the points. Of points with equal fpr the last (lowest threshold, highest detection)
    is kept. Then a monotone chain pops its last point while, for any action, that point lies
    on or below the chord from the point before it to the new one: every triple of the result
    turns right for every action, so each action's interpolation is concave.
    """
    n = len(fpr)
    distinct = np.flatnonzero(np.append(fpr[1:] != fpr[:-1], True))
    xs = fpr.tolist()
    ys = [tuple(row) for row in np.asarray(tpr).tolist()]
    chain: list[int] = []
    for i in distinct.tolist():
        x, y = xs[i], ys[i]
        while len(chain) >= 2:
            a, b = chain[-2], chain[-1]
            xa, xb = xs[a], xs[b]
            ya, yb = ys[a], ys[b]
            dx_b, dx = xb - xa, x - xa
            if any(
                dx_b * (yp - y0) - (y1 - y0) * dx >= 0 for y0, y1, yp in zip(ya, yb, y, strict=True)
            ):
                chain.pop()
            else:
                break
        chain.append(i)
    assert chain[-1] == n - 1 and fpr[chain[0]] == 0.0
    return np.asarray(chain, dtype=np.int64)
