"""What a simulation reports: estimates with confidence intervals, per action, monitor and
type, the model's prediction beside them, and the JSON document of ``deter simulate``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..model.utility import FloatArray
from ..results.serialise import dumps, envelope, jsonable

IntArray = NDArray[np.int64]

#: The final window is the last tenth of the episodes (at least one episode).
FINAL_WINDOW = 0.1
#: Two-sided 95% normal quantile, for the confidence intervals reported.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% confidence interval."""

    mean: float
    low: float
    high: float

    @classmethod
    def across(cls, values: FloatArray) -> Estimate:
        """Mean of per-agent values, normal CI across the population (agents independent)."""
        mean = float(np.mean(values))
        if values.size < 2:
            return cls(mean, math.nan, math.nan)
        half = Z95 * float(np.std(values, ddof=1)) / math.sqrt(values.size)
        return cls(mean, mean - half, mean + half)

    @classmethod
    def proportion(cls, successes: int, trials: int) -> Estimate:
        """A pooled frequency with its Wilson score interval (sound near 0 and 1)."""
        if trials == 0:
            return cls(math.nan, math.nan, math.nan)
        p = successes / trials
        z2 = Z95 * Z95
        centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
        half = (
            Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
        )
        return cls(p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ActionStats:
    name: str
    compliant: bool
    rate: Estimate  # fraction of episodes the agents take it, CI across the population
    taken: int  # agent-episodes, pooled
    caught: int  # of those, caught (compliant: falsely flagged)
    detection: Estimate  # caught / taken, Wilson CI
    model_detection: float  # the solver's P_i(x) (compliant: P_0)
    schedule_detection: float  # the exact P(caught) under the simulated schedule
    z: float | None  # (detection - schedule_detection) / binomial SE; None if never taken


@dataclass(frozen=True)
class MonitorStats:
    name: str
    rate: float
    inspection_rate: float  # realised fraction of agent-episodes inspected
    catches: int  # agent-episodes in which it caught (or flagged) the agent


@dataclass(frozen=True)
class TypeStats:
    """One agent type ([[types]]): what the model predicts for it and what its agents did."""

    name: str
    weight: float  # w_k, the probability an agent is of this type
    agents: int  # agents of the simulated population drawn to it
    induced_action: str  # its rational best response under the model's detection
    schedule_induced_action: str  # ... under the schedule's exact detection
    violation_rate: Estimate  # across its agents (NaN when none was drawn)


@dataclass(frozen=True)
class Prediction:
    """What the model says the policy does, to set beside the simulation."""

    # The rational best response under the model's detection; with [[types]] whose
    # responses differ, 'type: action' for each type.
    induced_action: str
    deterred: bool  # the induced action is the compliant one (for every type)
    schedule_induced_action: str  # the best response under the schedule's exact detection
    oversight_cost_per_episode: float  # sum_j c_j x_j
    # 0 when deterred, else 1 (a rational agent does not mix); with [[types]], the total
    # weight of the types that deviate.
    violation_rate: float


@dataclass(frozen=True)
class PolicyRun:
    label: str
    scale: float
    rates: dict[str, float]
    prediction: Prediction
    violation_rate: Estimate
    final_violation_rate: Estimate
    detections_per_episode: Estimate
    false_flags_per_episode: Estimate
    oversight_cost_per_episode: Estimate
    mean_payoff: Estimate
    actions: tuple[ActionStats, ...]
    monitors: tuple[MonitorStats, ...]
    curve: FloatArray = field(repr=False)  # violation rate of the population, per episode
    warnings: tuple[str, ...] = ()
    types: tuple[TypeStats, ...] = ()  # per type, when the spec has [[types]]

    def to_dict(self, curve_points: int = 200) -> dict[str, Any]:
        doc: dict[str, Any] = {"label": self.label, "scale": self.scale, "rates": self.rates}
        for key in (
            "violation_rate",
            "final_violation_rate",
            "detections_per_episode",
            "false_flags_per_episode",
            "oversight_cost_per_episode",
            "mean_payoff",
        ):
            estimate: Estimate = getattr(self, key)
            doc[key] = estimate.mean
            doc[f"{key}_ci"] = [estimate.low, estimate.high]
        doc["prediction"] = _plain(self.prediction)
        doc["actions"] = [
            {
                **_plain(a),
                "rate": a.rate.mean,
                "rate_ci": [a.rate.low, a.rate.high],
                "detection": a.detection.mean,
                "detection_ci": [a.detection.low, a.detection.high],
            }
            for a in self.actions
        ]
        doc["monitors"] = [_plain(m) for m in self.monitors]
        ends, values = downsample(self.curve, curve_points)
        doc["curve"] = {"episode": ends.tolist(), "violation_rate": values.tolist()}
        doc["warnings"] = list(self.warnings)
        doc["types"] = [
            {
                **_plain(t),
                "violation_rate": t.violation_rate.mean,
                "violation_rate_ci": [t.violation_rate.low, t.violation_rate.high],
            }
            for t in self.types
        ]
        return doc


@dataclass(frozen=True)
class Simulation:
    name: str
    file: str
    agent: str
    parameters: dict[str, float]
    episodes: int
    population: int
    seed: int
    schedule: str
    runs: tuple[PolicyRun, ...]
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self, curve_points: int = 200, *, timing: bool = True) -> dict[str, Any]:
        """The JSON document of ``deter simulate --format json``.

        ``curve_points`` buckets the violation curve; ``timing=False`` drops the one
        non-deterministic key, ``timing`` (the same seed gives the same document).
        """
        doc = jsonable(
            envelope(
                "simulation",
                {
                    "name": self.name,
                    "file": self.file,
                    "agent": self.agent,
                    "parameters": self.parameters,
                    "episodes": self.episodes,
                    "population": self.population,
                    "seed": self.seed,
                    "schedule": self.schedule,
                    "final_window": FINAL_WINDOW,
                    "policies": [run.to_dict(curve_points) for run in self.runs],
                    "timing": {"seconds": self.seconds},
                },
            )
        )
        if not timing:
            del doc["timing"]
        return doc

    def to_json(self, curve_points: int = 200, *, timing: bool = True) -> str:
        """``to_dict()`` as the JSON text ``deter simulate --format json`` prints."""
        return dumps(self.to_dict(curve_points, timing=timing), indent=2) + "\n"


def _plain(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if not isinstance(v, Estimate)}


def downsample(curve: FloatArray, points: int) -> tuple[IntArray, FloatArray]:
    """Bucket means of a per-episode curve: (last episode of each bucket, 1-based; mean)."""
    t = curve.shape[0]
    buckets = max(1, min(points, t))
    edges = np.linspace(0, t, buckets + 1).round().astype(np.int64)
    sums = np.add.reduceat(curve, edges[:-1])
    return edges[1:], sums / np.diff(edges)
