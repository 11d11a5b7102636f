"""The interface between model features and the program they are compiled into.

Following cvxportfolio's design, each feature is a small object that compiles itself to
cvxpy expressions over shared variables, and whose numeric data enters through named
cvxpy Parameters, so a compiled program can be re-solved for another spec of the same
shape by assigning new values (DPP) instead of being rebuilt.

A component's ``compile`` returns typed handles (a frozen dataclass of the constraints and
variables it added); everything read after a solve (chosen penalties, shadow prices, duals
in model units) goes through those handles, never through names looked up in a dict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ...model.arrays import ProblemArrays
from ...model.utility import FloatArray

Value: TypeAlias = np.ndarray | sp.spmatrix | sp.sparray | float
#: The dual of a constraint of the model as compiled (program rows, before any rescaling),
#: or None when the solver returned none. Supplied by whoever solved the program.
DualOf: TypeAlias = Callable[[cp.Constraint], FloatArray | None]

C = TypeVar("C", bound=cp.Constraint)


@dataclass
class Context:
    """Shared variables, the data registry, and the constraints and costs added so far.

    ``rates`` (x_j), ``detection`` (P_i, one per non-compliant action, a lower bound on
    the probability of being caught) and ``false_flags`` (P_0) are shared so that one
    feature can define how detection arises and another what it must achieve. ``data``
    holds each numeric input by name: the Parameters a cached program is re-loaded through.
    """

    n_deviations: int
    n_monitors: int
    parametric: bool
    rates: cp.Expression
    detection: cp.Expression
    false_flags: cp.Expression
    data: dict[str, Any] = field(default_factory=dict)
    constraints: list[cp.Constraint] = field(default_factory=list)
    costs: list[cp.Expression] = field(default_factory=list)

    def add_data(self, name: str, value: Value, **attributes: Any) -> Any:
        """A Parameter holding ``value`` (parametric build) or the constant itself."""
        if not self.parametric:
            self.data[name] = value
            return value
        dense = dense_array(value)
        parameter = cp.Parameter(dense.shape, name=name, value=dense, **attributes)
        self.data[name] = parameter
        return parameter

    def constrain(self, constraint: C) -> C:
        """Add a constraint to the program and hand it back (for the component's handles)."""
        self.constraints.append(constraint)
        return constraint

    def pay(self, cost: cp.Expression) -> cp.Expression:
        """Add a term to the objective (the program minimises the sum of the terms)."""
        self.costs.append(cost)
        return cost


def dense_array(value: Value) -> np.ndarray:
    """A dense float array of ``value`` (Parameters are dense)."""
    if isinstance(value, sp.spmatrix | sp.sparray):
        return np.asarray(value.toarray(), dtype=float)
    return np.asarray(value, dtype=float)


@dataclass(frozen=True)
class Handles:
    """What a component added to the program; subclasses name each piece with its type."""


class Component(ABC):
    """One feature of the model."""

    @abstractmethod
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        """The feature's numeric data, by parameter name."""

    @abstractmethod
    def compile(self, ctx: Context, values: Mapping[str, Value]) -> Handles:
        """Add this feature's constraints and costs to ``ctx``; return handles on them.

        Numbers must enter through ``ctx.add_data`` so they can be updated later.
        """

    def shape_key(self, arrays: ProblemArrays) -> tuple[Any, ...]:
        """What must match for a compiled program to be reused (beyond sizes)."""
        return (type(self).__name__,)

    # Read-outs after a solve (features whose decisions go beyond the rates override them).
    def chosen_penalties(
        self, arrays: ProblemArrays, rates: FloatArray, handles: Handles
    ) -> FloatArray | None:
        """The penalty of each non-compliant action chosen by the solved program (at the
        returned ``rates``), or None when this feature does not choose penalties (caps)."""
        return None

    def shadow_prices(
        self, arrays: ProblemArrays, handles: Handles, dual_of: DualOf, rates: FloatArray
    ) -> dict[str, float] | None:
        """d(least total cost) / d(gain) per action, when this feature owns the incentive
        rows and knows how to read them; None otherwise."""
        return None
