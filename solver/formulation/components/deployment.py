"""Fixed deployment costs: a monitor costs ``fixed_cost`` to run at all.

With a binary deployment variable z_j per monitor that has a fixed cost,

    x_j <= max_rate_j z_j,        oversight cost = sum_j c_j x_j + sum_j fixed_j z_j,

so a monitor with z_j = 0 is off (rate 0) and one with z_j = 1 pays its fixed cost once.
The program becomes a mixed-integer linear program (solved by HiGHS' branch and bound).
It is exact: for any policy x, the cheapest z consistent with it is z_j = 1 iff x_j > 0,
which is what the objective picks, so the MILP's optimum is the optimum of
sum c x + sum fixed [x > 0] over the same constraints. A monitor with min_rate > 0 is
always deployed (x_j >= min_rate_j > 0 forces z_j = 1). Only monitors with a positive
fixed cost get a binary, so a spec without fixed costs stays a linear program.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ...model.utility import FloatArray


@dataclass
class Deployment:
    """The binaries z, their constraints and the fixed-cost term, for one program."""

    fixed_cost: FloatArray  # per monitor (0 where none)
    paying: np.ndarray  # indices of monitors with a positive fixed cost
    deployed: cp.Variable | None
    constraints: dict[str, cp.Constraint]
    cost: cp.Expression | float  # sum_j fixed_j z_j

    def values(self) -> FloatArray:
        """z after the solve, rounded; 1 for monitors without a fixed cost (nothing to pay)."""
        z = np.ones(self.fixed_cost.size)
        if self.deployed is not None and self.deployed.value is not None:
            z[self.paying] = np.round(np.asarray(self.deployed.value, dtype=float))
        return z


def compile_deployment(
    rates: cp.Variable, max_rate: FloatArray, fixed_cost: FloatArray
) -> Deployment:
    """Add z_j in {0, 1} and x_j <= max_rate_j z_j for the monitors with a fixed cost."""
    paying = np.flatnonzero(fixed_cost > 0)
    if paying.size == 0:
        return Deployment(fixed_cost, paying, None, {}, 0.0)
    z = cp.Variable(paying.size, boolean=True, name="deployed")
    constraints: Mapping[str, cp.Constraint] = {
        "deployment": rates[paying] <= cp.multiply(max_rate[paying], z)
    }
    return Deployment(fixed_cost, paying, z, dict(constraints), fixed_cost[paying] @ z)
