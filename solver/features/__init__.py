"""Model features. Each module contributes variables, constraints and objective terms to the
program through the small :class:`~deter.solver.features.base.Component` interface.

Adding a feature means adding a module here and listing it in :func:`components_for`.
"""

from __future__ import annotations

from ..arrays import ProblemArrays
from .base import Component
from .detection import LinearDetection
from .deterrence import Deterrence
from .monitoring import Budget, MonitoringCost


def components_for(arrays: ProblemArrays) -> list[Component]:
    """The components that make up the program for these arrays, in build order."""
    components: list[Component] = [MonitoringCost(), LinearDetection(), Deterrence()]
    if arrays.budget is not None:
        components.append(Budget())
    return components


__all__ = [
    "Budget",
    "Component",
    "Deterrence",
    "LinearDetection",
    "MonitoringCost",
    "components_for",
]
