"""A policy document as numpy arrays, and the exact figures of its audit schedule.

Shared by the document (its derived figures) and the runtime; numpy and the standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

SCHEDULES = ("coordinated", "independent")


@dataclass(frozen=True, eq=False)
class PolicyArrays:
    """A policy document as arrays: i over actions, j over monitors (document order).

    ``catch[i, j]`` is q_ij for a non-compliant action and f_j (false flags) for the
    compliant row; ``penalty[i]`` is F_i, and F_fp for the compliant action.
    """

    action_names: tuple[str, ...]
    monitor_names: tuple[str, ...]
    compliant: int
    gain: FloatArray
    penalty: FloatArray
    catch: FloatArray
    rates: FloatArray
    cost: FloatArray
    risk_aversion: float
    schedule: str

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], schedule: str | None = None) -> PolicyArrays:
        actions = tuple(a["name"] for a in doc["actions"])
        monitors = tuple(m["name"] for m in doc["monitors"])
        compliant = actions.index(doc["compliant"])
        catch = np.zeros((len(actions), len(monitors)))
        for j, monitor in enumerate(doc["monitors"]):
            for action, q in doc["detection"].get(monitor["name"], {}).items():
                catch[actions.index(action), j] = q
            catch[compliant, j] = monitor["false_positive"]
        penalty = np.array([float(doc["penalties"].get(a, 0.0)) for a in actions])
        penalty[compliant] = doc["false_positive_penalty"]
        chosen = schedule or doc["schedule"]
        if chosen not in SCHEDULES:
            raise ValueError(f"unknown schedule {chosen!r}; choose one of {', '.join(SCHEDULES)}")
        return cls(
            action_names=actions,
            monitor_names=monitors,
            compliant=compliant,
            gain=np.array([float(a["gain"]) for a in doc["actions"]]),
            penalty=penalty,
            catch=catch,
            rates=np.array([float(doc["rates"][m]) for m in monitors]),
            cost=np.array([float(m["cost"]) for m in doc["monitors"]]),
            risk_aversion=float(doc.get("risk_aversion", 0.0)),
            schedule=chosen,
        )

    @property
    def starts(self) -> FloatArray:
        """s_{j-1}: where monitor j's stretch begins on the coordinated schedule's circle."""
        return np.asarray((np.cumsum(self.rates) - self.rates) % 1.0)

    def _stretches(self) -> tuple[FloatArray, BoolArray]:
        """The coordinated schedule as stretches of U: (lengths (S,), inspecting (S, M)).

        The set of monitors running changes only where U crosses some s_j mod 1 or
        s_j + x_j mod 1, so the schedule is a finite list of stretches.
        """
        starts, x = self.starts, self.rates
        cuts = np.unique(np.concatenate(([0.0, 1.0], starts, (starts + x) % 1.0)))
        lengths = np.diff(cuts)
        middles = cuts[:-1] + lengths / 2
        inspecting = ((middles[:, None] - starts[None, :]) % 1.0) < x[None, :]
        return lengths, inspecting

    def exact_detection(self) -> FloatArray:
        """P(caught) of every action under the schedule (compliant: P(falsely flagged))."""
        q, x = self.catch, self.rates
        if x.size == 0:
            return np.zeros(len(self.action_names))
        if self.schedule == "independent":
            return np.asarray(1.0 - np.prod(1.0 - q * x[None, :], axis=1))
        lengths, inspecting = self._stretches()
        escape = np.prod(np.where(inspecting[:, None, :], 1.0 - q[None, :, :], 1.0), axis=2)
        return np.asarray(np.clip(1.0 - lengths @ escape, 0.0, 1.0))

    def spend_moments(self) -> tuple[float, float]:
        """Mean and variance of one episode's oversight spend sum_j c_j 1{j runs}."""
        c, x = self.cost, self.rates
        mean = float(c @ x)
        if x.size == 0:
            return 0.0, 0.0
        if self.schedule == "independent":
            return mean, float(np.sum(c * c * x * (1 - x)))
        lengths, inspecting = self._stretches()
        spend = inspecting.astype(float) @ c
        return mean, max(0.0, float(lengths @ (spend * spend)) - mean * mean)
