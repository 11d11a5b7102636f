"""Monitor rates, their cost, and the oversight budget.

x_j in [min_rate_j, max_rate_j]; cost = sum_j c_j x_j; with a budget B, sum_j c_j x_j <= B.
The objective is scaled by the largest cost so that its coefficients are of order one
(the scale is undone when duals are read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ...model.arrays import ProblemArrays
from .base import Component, Context, Handles, Value


@dataclass(frozen=True)
class RateHandles(Handles):
    """The rate bounds (duals: the value of a higher ceiling or a lower floor)."""

    min_rate: cp.Constraint
    max_rate: cp.Constraint


@dataclass(frozen=True)
class BudgetHandles(Handles):
    budget: cp.Constraint


#: Relative room the program leaves under a budget (above the solvers' tolerances, far below
#: any cost difference that matters: optima move by at most this fraction).
BUDGET_ROOM = 1e-9


def cost_scale(arrays: ProblemArrays) -> float:
    largest = float(np.max(arrays.cost, initial=0.0))
    return largest if largest > 0 else 1.0


class MonitoringCost(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        return {
            "scaled_cost": arrays.cost / cost_scale(arrays),
            "min_rate": arrays.min_rate,
            "max_rate": arrays.max_rate,
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> RateHandles:
        x = ctx.rates
        ctx.pay(ctx.add_data("scaled_cost", values["scaled_cost"]) @ x)
        return RateHandles(
            min_rate=ctx.constrain(x >= ctx.add_data("min_rate", values["min_rate"])),
            max_rate=ctx.constrain(x <= ctx.add_data("max_rate", values["max_rate"])),
        )


class Budget(Component):
    """sum_j c_j x_j <= B, in the scaled units of the objective."""

    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        assert arrays.budget is not None
        # A budget is a hard limit, checked exactly; solvers meet rows only to a tolerance
        # (1e-10 relative on the rescaled attempt), so the program keeps that much room.
        return {"scaled_budget": arrays.budget * (1.0 - BUDGET_ROOM) / cost_scale(arrays)}

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> BudgetHandles:
        budget = ctx.add_data("scaled_budget", values["scaled_budget"])
        # The same scaled cost as MonitoringCost's objective term (shared data).
        return BudgetHandles(ctx.constrain(ctx.data["scaled_cost"] @ ctx.rates <= budget))
