"""Model features. Each module contributes variables, constraints and objective terms to the
program through the small :class:`~deter.solver.formulation.components.base.Component` interface.

Adding a feature means adding a module here and listing it in :func:`components_for`.
"""

from __future__ import annotations

from ...model.arrays import ProblemArrays
from .base import Component
from .detection import LinearDetection
from .deterrence import Deterrence
from .exponential import ExponentialDetection, ExponentialThresholds
from .monitoring import Budget, MonitoringCost
from .penalty import PenaltyDesign
from .roc import RocDetection


def components_for(arrays: ProblemArrays) -> list[Component]:
    """The components that make up the program for these arrays, in build order."""
    if _thresholds_suffice(arrays):
        components: list[Component] = [MonitoringCost(), ExponentialThresholds()]
    else:
        components = [MonitoringCost(), _detection(arrays), _deterrence(arrays)]
    if arrays.budget is not None:
        components.append(Budget())
    return components


def _thresholds_suffice(arrays: ProblemArrays) -> bool:
    """Exponential detection with caps and no false-flag term: the rows are linear."""
    no_false_flags = arrays.false_positive_penalty == 0 or not bool(
        (arrays.false_positive > 0).any()
    )
    return (
        arrays.detection_model == "exponential"
        and arrays.penalty_design == "fixed"
        and not arrays.roc
        and no_false_flags
    )


def _detection(arrays: ProblemArrays) -> Component:
    if arrays.detection_model == "exponential":
        return ExponentialDetection()
    return RocDetection(arrays) if arrays.roc else LinearDetection()


def _deterrence(arrays: ProblemArrays) -> Component:
    if arrays.penalty_design == "fixed":
        return Deterrence()
    return PenaltyDesign(arrays.penalty_design)


__all__ = [
    "Budget",
    "Component",
    "Deterrence",
    "ExponentialDetection",
    "ExponentialThresholds",
    "LinearDetection",
    "MonitoringCost",
    "PenaltyDesign",
    "RocDetection",
    "components_for",
]
