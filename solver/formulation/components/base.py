"""The interface between model features and the program they are compiled into.

Following cvxportfolio's design, each feature is a small object that compiles itself to
cvxpy expressions over shared variables, and whose numeric data enters through named
cvxpy Parameters, so a compiled program can be re-solved for another spec of the same
shape by assigning new values (DPP) instead of being rebuilt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ...model.arrays import ProblemArrays

Value: TypeAlias = np.ndarray | sp.spmatrix | sp.sparray | float


@dataclass
class Context:
    """Shared variables, data and the named pieces the program is assembled from.

    ``rates`` (x_j), ``detection`` (P_i, one per non-compliant action, a lower bound on
    the probability of being caught) and ``false_flags`` (P_0) are shared so that one
    feature can define how detection arises and another what it must achieve.
    """

    n_deviations: int
    n_monitors: int
    parametric: bool
    rates: cp.Variable
    detection: cp.Variable
    false_flags: cp.Variable
    data: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, cp.Constraint] = field(default_factory=dict)
    objective: dict[str, cp.Expression] = field(default_factory=dict)

    def add_data(self, name: str, value: Value, **attributes: Any) -> Any:
        """A Parameter holding ``value`` (parametric build) or the constant itself."""
        if not self.parametric:
            self.data[name] = value
            return value
        dense = dense_array(value)
        parameter = cp.Parameter(dense.shape, name=name, value=dense, **attributes)
        self.data[name] = parameter
        return parameter


def dense_array(value: Value) -> np.ndarray:
    """A dense float array of ``value`` (Parameters are dense)."""
    if isinstance(value, sp.spmatrix | sp.sparray):
        return np.asarray(value.toarray(), dtype=float)
    return np.asarray(value, dtype=float)


class Component(ABC):
    """One feature of the model."""

    @abstractmethod
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        """The feature's numeric data, by parameter name."""

    @abstractmethod
    def compile(self, ctx: Context, values: Mapping[str, Value]) -> None:
        """Add this feature's constraints and objective terms to ``ctx``.

        Numbers must enter through ``ctx.add_data`` so they can be updated later.
        """

    def shape_key(self, arrays: ProblemArrays) -> tuple[Any, ...]:
        """What must match for a compiled program to be reused (beyond sizes)."""
        return (type(self).__name__,)

    # Optional hooks read after a solve (features whose decisions go beyond the rates).
    def chosen_penalties(self, arrays: ProblemArrays, rates: np.ndarray) -> np.ndarray | None:
        """The penalty of each non-compliant action chosen by the solved program (at the
        returned ``rates``), or None when this feature does not choose penalties (caps)."""
        return None

    def shadow_prices(self, arrays: ProblemArrays) -> dict[str, float] | None:
        """d(least total cost) / d(gain) per action, when this feature owns the incentive rows."""
        return None
