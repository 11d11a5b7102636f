"""A monitor's smooth binormal ROC (``deter fit --roc binormal``), with a parametric band.

**The model.** The honest scores are N(m0, s0^2) and each attack kind's scores N(m_a, s_a^2).
A threshold t flags the honest fraction FPR(t) = 1 - Phi((t - m0) / s0) and detects the
fraction TPR_a(t) = 1 - Phi((t - m_a) / s_a), so the curve is the binormal ROC
TPR = Phi(a + b Phi^-1(FPR)) with a = (m_a - m0) / s_a and b = s0 / s_a (Swets & Pickett
1982; Pepe 2003, ch. 5). Each class's (m, s) is fitted by maximum likelihood (the sample mean
and the standard deviation with divisor n). This fits the scores *as they are*: it assumes
the scores themselves are normal within each class (not merely after some monotone
transform), and :func:`normal_misfit` says when the data reject that.

**Where needed, its concave version.** With b != 1 the binormal curve has a "hook" (it dips
below the chance line near one end) and is not concave. The curve is sampled at thresholds
whose honest rates run geometrically from 1e-5 to 1 - 1e-5, and the chain kept is the common
concave envelope of :func:`.roc.common_envelope`: randomising between neighbouring thresholds
realises it, exactly as for the empirical fit.

**The band (parametric).** For one class with n scores, sample mean x and sample SD s
(divisor n - 1), x and s^2 are independent, (x - m) / (sigma / sqrt n) ~ N(0, 1) and
(n - 1) s^2 / sigma^2 ~ chi^2(n - 1). So the region

    |x - m| <= z sigma / sqrt n   and   sigma in [s sqrt((n-1) / chi2_hi), s sqrt((n-1) / chi2_lo)],

with each pivot at level alpha = 1 - sqrt(1 - delta) (z and the chi^2 quantiles at alpha / 2
in each tail), holds the true (m, sigma) with probability exactly 1 - delta (Mood, Graybill &
Boes 1974, sec. VIII.3; the two pivots are independent). Over the region, the largest
exceedance P(score >= t) is 1 - Phi(min_sigma (t - x) / sigma - z / sqrt n) and the smallest
1 - Phi(max_sigma (t - x) / sigma + z / sqrt n), with the min and max at an end of the sigma
interval: closed forms. One region covers every threshold at once, so the pessimistic curve
(honest rate at its upper bound, detection at its lower bound) is simultaneous over the
thresholds, like DKW's, but **only if the scores are normal**: when they are not, the band
says nothing, and the fit warns when the data reject normality.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, norm

from .roc import FloatArray, MonitorCurve, auc, common_envelope, exceed_rate

#: The honest flag rates at which the curve is sampled (then made concave): geometric toward
#: both ends, where the small rates that deter cheaply live.
LEVELS = np.unique(
    np.concatenate([np.geomspace(1e-5, 0.5, 120), 1.0 - np.geomspace(1e-5, 0.5, 40)])
)
#: Fewer scores than this in a class leave its SD meaningless: the monitor is fitted
#: empirically instead (the caller says so).
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Normal:
    """One class's fitted normal: the ML mean and SD, and the sample SD (divisor n - 1)."""

    mean: float
    sd: float  # maximum likelihood (divisor n)
    sd_sample: float  # divisor n - 1, for the pivots
    n: int

    @classmethod
    def fit(cls, scores: FloatArray) -> Normal:
        x = np.asarray(scores, dtype=float)
        return cls(float(x.mean()), float(x.std()), float(x.std(ddof=1)), int(x.size))

    def region(self, delta: float) -> tuple[float, float, float]:
        """(z / sqrt n, sigma low, sigma high) of the exact joint region at level delta."""
        alpha = 1.0 - math.sqrt(1.0 - delta)
        z = float(norm.isf(alpha / 2.0))
        lo, hi = (float(q) for q in chi2.ppf([alpha / 2.0, 1.0 - alpha / 2.0], self.n - 1))
        k = self.n - 1
        return (
            z / math.sqrt(self.n),
            self.sd_sample * math.sqrt(k / hi),
            self.sd_sample * (math.sqrt(k / lo)),
        )

    def exceed(self, thresholds: FloatArray) -> FloatArray:
        """The fitted P(score >= t)."""
        return np.asarray(norm.sf((thresholds - self.mean) / self.sd))

    def exceed_upper(self, thresholds: FloatArray, delta: float) -> FloatArray:
        """The largest P(score >= t) over the region, at every threshold at once."""
        shift, lo, hi = self.region(delta)
        d = thresholds - self.mean
        return np.asarray(norm.sf(np.minimum(d / lo, d / hi) - shift))

    def exceed_lower(self, thresholds: FloatArray, delta: float) -> FloatArray:
        """The smallest P(score >= t) over the region, at every threshold at once."""
        shift, lo, hi = self.region(delta)
        d = thresholds - self.mean
        return np.asarray(norm.sf(np.maximum(d / lo, d / hi) + shift))


def binormal_ab(honest: Normal, attack: Normal) -> tuple[float, float]:
    """The binormal (a, b) of an attack kind: TPR = Phi(a + b Phi^-1(FPR))."""
    return (attack.mean - honest.mean) / attack.sd, honest.sd / attack.sd


def fittable(scores: FloatArray) -> bool:
    """Whether a class's scores can be fitted by a normal (enough of them, not all equal)."""
    x = np.asarray(scores, dtype=float)
    return x.size >= MIN_SAMPLES and bool(np.ptp(x) > 0)


def normal_misfit(scores: FloatArray, level: float = 0.05) -> tuple[float, float] | None:
    """(Kolmogorov-Smirnov distance to the fitted normal, critical value) when the data
    reject normality at ``level``, else None. The critical value is the two-sided DKW bound
    sqrt(ln(2 / level) / (2 n)) (Massart 1990): with the parameters estimated the distance is
    smaller than with the truth's, so the test is conservative (it rejects less often than
    ``level`` says, never more)."""
    x = np.sort(np.asarray(scores, dtype=float))
    n = x.size
    fitted = Normal.fit(x)
    cdf = norm.cdf((x - fitted.mean) / fitted.sd)
    # the empirical CDF jumps at each score: compare both sides of each jump (ties: the top)
    above = np.searchsorted(x, x, side="right") / n
    below = np.searchsorted(x, x, side="left") / n
    distance = float(max(np.max(above - cdf), np.max(cdf - below)))
    critical = math.sqrt(math.log(2.0 / level) / (2.0 * n))
    return (distance, critical) if distance > critical else None


def fit_binormal(
    monitor: str,
    honest: FloatArray,
    attacks: Mapping[str, FloatArray],
    delta: float | None = None,
) -> tuple[MonitorCurve, Mapping[str, tuple[float, float]]]:
    """The binormal curve of a monitor, and each action's (a, b).

    ``delta`` is the level of *each* class's region (the caller splits its overall delta, as
    for the empirical bands); ``None`` fits the point curve. Every class must be
    :func:`fittable`.
    """
    h = Normal.fit(honest)
    fits = {a: Normal.fit(s) for a, s in attacks.items()}
    names = list(fits)
    inner = h.mean + h.sd * norm.isf(LEVELS)  # descending thresholds, rising rates
    thresholds = np.concatenate([[math.inf], inner, [-math.inf]])

    def ends(values: FloatArray) -> FloatArray:
        return np.concatenate([[0.0], values, [1.0]])

    fpr_point = ends(h.exceed(inner))
    tpr_point = {a: ends(f.exceed(inner)) for a, f in fits.items()}
    if delta is None:
        fpr, tpr = fpr_point, tpr_point
    else:
        fpr = ends(h.exceed_upper(inner, delta))
        tpr = {a: ends(f.exceed_lower(inner, delta)) for a, f in fits.items()}
    # rates rounded to 1e-15 so that the chain sees equal rates at the far tails as equal
    fpr = np.maximum.accumulate(np.round(fpr, 15))
    tpr = {a: np.maximum.accumulate(np.round(y, 15)) for a, y in tpr.items()}
    keep = common_envelope(fpr, np.column_stack([tpr[a] for a in names]))
    h_sorted = np.sort(np.asarray(honest, dtype=float))
    a_sorted = {a: np.sort(np.asarray(s, dtype=float)) for a, s in attacks.items()}
    curve = MonitorCurve(
        monitor=monitor,
        thresholds=thresholds[keep],
        fpr=fpr[keep],
        tpr={a: tpr[a][keep] for a in names},
        fpr_empirical=ends(exceed_rate(h_sorted, inner))[keep],
        tpr_empirical={a: ends(exceed_rate(s, inner))[keep] for a, s in a_sorted.items()},
        n_honest=h.n,
        n_attack={a: f.n for a, f in fits.items()},
        eps_honest=float(np.max(fpr - fpr_point)),
        eps_attack={a: float(np.max(tpr_point[a] - tpr[a])) for a in names},
        auc={a: auc(h_sorted, s) for a, s in a_sorted.items()},
    )
    return curve, {a: binormal_ab(h, f) for a, f in fits.items()}


__all__ = ["LEVELS", "Normal", "binormal_ab", "fit_binormal", "fittable", "normal_misfit"]
