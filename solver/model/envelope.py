"""ROC curves as detection functions: the upper concave envelope of a monitor's operating points.

A monitor scores every episode; a threshold flags the fraction x of honest episodes (its
false-positive rate) and catches the fraction y of episodes with a given action (its
true-positive rate). Randomising between two thresholds reaches every point on the segment
between their operating points, so the detection the principal can buy at flag rate x is

    h(x) = max { lambda y_a + (1 - lambda) y_b : lambda x_a + (1 - lambda) x_b = x }

over pairs of points: the upper concave envelope of the points (with (0, 0), "flag nothing",
always available). It is piecewise linear and concave, so h(x) = min_k (s_k x + b_k) over the
envelope's segments on [0, 1], which a linear program can hold as hypograph constraints.

Two computations live here on purpose: :func:`upper_envelope` (a monotone-chain hull, used to
build the program) and :func:`randomised_detection` (the max over pairs of points, straight
from the definition above, used to verify answers), so that one does not check itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .utility import FloatArray

#: False-positive rates below this are taken as 0 (a slope of 1/1e-300 is not a number).
FPR_FLOOR = 1e-12


def roc_points(points: object) -> FloatArray:
    """The points as a (K, 2) array sorted by (fpr, tpr), with (0, 0) added."""
    array = np.asarray(points, dtype=float).reshape(-1, 2)
    array = np.vstack([[0.0, 0.0], array])
    array[array[:, 0] < FPR_FLOOR, 0] = 0.0
    order = np.lexsort((array[:, 1], array[:, 0]))
    return np.asarray(array[order])


def upper_envelope(points: object) -> tuple[FloatArray, FloatArray]:
    """Vertices (fpr, tpr) of the upper concave envelope of the ROC points, left to right."""
    pts = roc_points(points)
    # Keep the highest tpr for each fpr (pts is sorted by fpr, then tpr).
    last_of_each = np.append(pts[1:, 0] != pts[:-1, 0], True)
    pts = pts[last_of_each]
    hull: list[tuple[float, float]] = []
    for x, y in pts:
        # Pop the last vertex while it lies on or below the chord from its predecessor to (x, y).
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append((float(x), float(y)))
    vertices = np.array(hull, dtype=float)
    return vertices[:, 0], vertices[:, 1]


def envelope_segments(points: object) -> tuple[FloatArray, FloatArray]:
    """(slope, intercept) of each envelope segment; h(x) = min_k slope_k x + intercept_k.

    A curve whose envelope is a single point (only fpr 0 given) is the constant line.
    """
    fpr, tpr = upper_envelope(points)
    if len(fpr) == 1:
        return np.zeros(1), tpr.copy()
    slope = np.diff(tpr) / np.diff(fpr)
    intercept = tpr[:-1] - slope * fpr[:-1]
    return slope, intercept


def randomised_detection(points: object, rate: float) -> float:
    """h(rate): the best true-positive rate a mix of two thresholds reaches at this fpr.

    Straight from the definition (max over all pairs of points straddling ``rate``),
    independent of :func:`upper_envelope`; used by verification.
    """
    pts = roc_points(points)
    x, y = pts[:, 0], pts[:, 1]
    xa, xb = x[:, None], x[None, :]
    ya, yb = y[:, None], y[None, :]
    straddle = (xa <= rate) & (rate <= xb)
    width = xb - xa
    with np.errstate(divide="ignore", invalid="ignore"):
        weight_b = np.where(width > 0, (rate - xa) / width, 1.0)
    mixed = np.where(width > 0, (1 - weight_b) * ya + weight_b * yb, np.maximum(ya, yb))
    candidates = mixed[straddle]
    return float(candidates.max()) if candidates.size else 0.0


def randomised_thresholds(
    fpr: FloatArray, thresholds: FloatArray, rate: float
) -> tuple[float, float, float]:
    """How a scored monitor flags at ``rate``: (high threshold, low threshold, probability
    of the high one).

    ``fpr`` ascends from 0 (``thresholds`` descending from +inf, "flag nothing") to 1
    (-inf, "flag everything"), one threshold per operating point of a chain that is
    concave for every action (``deter fit`` writes such chains). Flagging when the score is
    at least the high threshold with that probability, else at least the low one, flags
    exactly ``rate`` of honest episodes and reaches each action's interpolated detection.
    Used by the control loop and by the policy document, so both apply one rule.
    """
    rate = min(max(rate, 0.0), 1.0)
    k = int(np.searchsorted(fpr, rate, side="left"))
    if k == 0:
        return float(thresholds[0]), float(thresholds[0]), 1.0
    lo, hi = fpr[k - 1], fpr[k]
    high_weight = float((hi - rate) / (hi - lo)) if hi > lo else 0.0
    return float(thresholds[k - 1]), float(thresholds[k]), high_weight


@dataclass(frozen=True, eq=False)
class RocCurve:
    """One monitor's ROC curve for one action: what detection its flag rate buys."""

    action: int  # index into the actions
    monitor: int  # index into the monitors
    points: FloatArray  # (K, 2) as given (without the implicit (0, 0))

    @property
    def segments(self) -> tuple[FloatArray, FloatArray]:
        return envelope_segments(self.points)
