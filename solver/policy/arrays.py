"""A policy document as the game it sets (``solver/model/game.py``), with its schedule.

Shared by the document (its derived figures) and the runtime; numpy and the standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model.game import SCHEDULES, Game
from ..model.utility import FloatArray

__all__ = ["SCHEDULES", "FloatArray", "PolicyArrays"]


@dataclass(frozen=True, eq=False)
class PolicyArrays(Game):
    """A policy document's game (actions and monitors in document order) and its schedule."""

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

    def exact_detection(self) -> FloatArray:
        """P(caught) of every action under the schedule (compliant: P(falsely flagged))."""
        return self.schedule_detection(self.schedule)

    def spend_moments(self) -> tuple[float, float]:
        """Mean and variance of one episode's oversight spend sum_j c_j 1{j runs}."""
        return self.schedule_spend(self.schedule)
