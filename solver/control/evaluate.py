"""A designed policy applied to scored samples: who is flagged, what is caught, is it deterred.

A design gives each ROC monitor a flag rate x. The monitor realises x by randomising between
the two neighbouring thresholds of its fitted envelope (:meth:`MonitorCurve.thresholds_for`),
so a sample with score s is flagged with probability w [s >= t_high] + (1 - w) [s >= t_low].
On held-out samples (or under known distributions) that gives the realised flag rate of each
monitor and the realised detection of each action; detection adds across monitors, capped at
1, as in the spec's model (docs/model.md). An action is deterred when its realised detection
meets what the spec's incentive constraint needs (risk-neutral agent, no false-flag penalty:
P_i >= (g_i - g_0 + margin) / F_i).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from ..spec.document import Spec
from ..spec.gains import gain_bounds
from .roc import FloatArray, MonitorCurve


class Thresholded(Protocol):
    """A monitor's fitted chain as a flag rule: a :class:`MonitorCurve`, or a calibration
    read back from JSON (:class:`deter.solver.policy.roc.Calibrated`)."""

    def thresholds_for(self, rate: float) -> tuple[float, float, float]: ...


def flag_probability(curve: Thresholded, rate: float, scores: FloatArray) -> FloatArray:
    """The probability that each score is flagged when the monitor runs at ``rate``."""
    high, low, weight = curve.thresholds_for(rate)
    s = np.asarray(scores, dtype=float)
    return np.asarray(weight * (s >= high) + (1.0 - weight) * (s >= low), dtype=float)


def exceed_mix(curve: MonitorCurve, rate: float, exceed: Callable[[float], float]) -> float:
    """The flag probability at ``rate`` of a distribution given by its P(score >= t)."""
    high, low, weight = curve.thresholds_for(rate)
    return weight * exceed(high) + (1.0 - weight) * exceed(low)


def required_detection(spec: Spec) -> dict[str, float]:
    """Each non-compliant action's least detection that deters it (risk neutral, no false
    flag penalty): (g_i - g_0 + margin) / F_i, or 0 when it does not pay."""
    if spec.agent.risk_aversion != 0 or spec.agent.false_positive_penalty != 0:
        raise ValueError(
            "required_detection covers risk-neutral specs without false-flag penalties"
        )
    compliant = spec.compliant_action
    g0 = gain_bounds(spec.action(compliant).gain)[0]
    need: dict[str, float] = {}
    for action in spec.actions:
        if action.name == compliant:
            continue
        gap = gain_bounds(action.gain)[1] - g0 + spec.agent.margin
        cap = spec.penalty_cap(action)
        need[action.name] = 0.0 if gap <= 0 else (np.inf if cap <= 0 else gap / cap)
    return need


@dataclass(frozen=True)
class Outcome:
    """A design measured on samples (or distributions)."""

    detection: Mapping[str, float]  # per action, summed over monitors, capped at 1
    flag_rate: Mapping[str, float]  # per monitor, on honest samples
    deterred: Mapping[str, bool]

    @property
    def all_deterred(self) -> bool:
        return all(self.deterred.values())


def measure(
    curves: Mapping[str, MonitorCurve],
    rates: Mapping[str, float],
    need: Mapping[str, float],
    exceed: Callable[[str, str, float], float],
    honest: str,
    combine: str = "sum",
) -> Outcome:
    """Measure a design: ``exceed(monitor, action, t)`` is P(score >= t) for that action's
    samples (``honest`` names the compliant one): empirical on held-out samples, or true.

    ``combine``: ``sum`` adds the monitors' detections (capped at 1), the spec's model;
    ``independent`` is P(some monitor flags) = 1 - prod (1 - p_m), the truth when the
    monitors' scores are independent given the action (as in the synthetic example): a check
    of the model's additivity, which overstates detection when monitors catch the same
    attacks.
    """
    if combine not in ("sum", "independent"):
        raise ValueError(f"combine must be sum or independent, not {combine!r}")
    miss = dict.fromkeys(need, 1.0)
    detection = dict.fromkeys(need, 0.0)
    flag_rate: dict[str, float] = {}
    for monitor, curve in curves.items():
        rate = rates.get(monitor, 0.0)
        flag_rate[monitor] = exceed_mix(curve, rate, partial(exceed, monitor, honest))
        for action in need:
            if action in curve.tpr:
                p = exceed_mix(curve, rate, partial(exceed, monitor, action))
                detection[action] += p
                miss[action] *= 1.0 - p
    if combine == "sum":
        detection = {a: min(1.0, p) for a, p in detection.items()}
    else:
        detection = {a: 1.0 - m for a, m in miss.items()}
    deterred = {a: detection[a] >= need[a] - 1e-12 for a in need}
    return Outcome(detection=detection, flag_rate=flag_rate, deterred=deterred)


def empirical_exceed(
    scores: Mapping[str, Mapping[str, FloatArray]],
) -> Callable[[str, str, float], float]:
    """P(score >= t) from samples: ``scores[monitor][action]`` (sorted inside)."""
    ordered = {m: {a: np.sort(s) for a, s in by.items()} for m, by in scores.items()}

    def exceed(monitor: str, action: str, threshold: float) -> float:
        s = ordered[monitor][action]
        return float((len(s) - np.searchsorted(s, threshold, side="left")) / len(s))

    return exceed
