"""Cross-check: deter's cvxpy program against an independent formulation with
scipy.optimize.linprog (HiGHS), on a few hundred seeded random specs.

The independent formulation uses only the monitor rates x. With d_i = u(g_i) - u(g_i - F_i),
d_0 = u(g_0) - u(g_0 - F_fp) and k_i = u(g_i) - u(g_0) + m (absolute wealth, u written out in
reference.py), the incentive constraint d_i min(1, Q_i x) - d_0 f x >= k_i is, for d_i > 0,
the pair  d_i Q_i x - d_0 f x >= k_i  and  d_i - d_0 f x >= k_i;  for d_i = 0 it is
-d_0 f x >= k_i. Then  min c x  s.t. those, min_rate <= x <= max_rate, c x <= budget.
"""

from __future__ import annotations

import math
from typing import Any

import deter
import numpy as np
import pytest
from deter.solver.spec.loading import validate_spec_data
from scipy.optimize import linprog

from tests.support.random_specs import random_spec
from tests.support.reference import u

SPECS_PER_FAMILY = 80
FAMILIES = ("risk_neutral", "cara", "false_positives", "budget_and_min_rates")


def linprog_answer(data: dict[str, Any]) -> tuple[str, float | None]:
    """("optimal", cost) or ("infeasible", None) from the independent formulation."""
    actions = data["actions"]
    agent = data.get("agent", {})
    r = float(agent.get("risk_aversion", 0.0))
    margin = float(agent.get("margin", 0.0))
    ffp = float(agent.get("false_positive_penalty", 0.0))
    names = [a["name"] for a in actions]
    monitors = [dict(m) for m in data["monitors"]]
    for a in actions:
        if "audit_cost" in a:
            monitors.append(
                {
                    "name": f"audit:{a['name']}",
                    "cost": a["audit_cost"],
                    "detects": {a["name"]: a.get("audit_detection", 1.0)},
                }
            )
    c = np.array([mon["cost"] for mon in monitors], dtype=float)
    lo = np.array([mon.get("min_rate", 0.0) for mon in monitors], dtype=float)
    hi = np.array([mon.get("max_rate", 1.0) for mon in monitors], dtype=float)
    f = np.array([mon.get("false_positive", 0.0) for mon in monitors], dtype=float)
    g0 = float(actions[0]["gain"])
    d0 = u(g0, r) - u(g0 - ffp, r)
    rows: list[np.ndarray] = []
    rhs: list[float] = []

    def at_most(row: np.ndarray, bound: float) -> None:
        scale = max(float(np.max(np.abs(row), initial=0.0)), abs(bound), 1e-300)
        rows.append(row / scale)
        rhs.append(bound / scale)

    for a in actions[1:]:
        g, cap = float(a["gain"]), float(a["penalty_cap"])
        d = u(g, r) - u(g - cap, r)
        k = u(g, r) - u(g0, r) + margin
        q = np.array([mon["detects"].get(a["name"], 0.0) for mon in monitors], dtype=float)
        if d > 0:
            at_most(-(d * q - d0 * f), -k)  # d Q x - d0 f x >= k
            at_most(d0 * f, d - k)  # d * 1 - d0 f x >= k
        else:
            at_most(d0 * f, -k)
    budget = data.get("oversight", {}).get("budget")
    if budget is not None:
        at_most(c.copy(), float(budget))
    assert len(names) == len(set(names))
    solution = linprog(
        c,
        A_ub=np.array(rows) if rows else None,
        b_ub=np.array(rhs) if rows else None,
        bounds=list(zip(lo, hi, strict=True)),
        method="highs",
    )
    if solution.status == 2:
        return "infeasible", None
    assert solution.status == 0, solution.message
    return "optimal", float(c @ solution.x)


@pytest.mark.parametrize("family", FAMILIES)
def test_cvxpy_agrees_with_linprog(family: str) -> None:
    rng = np.random.default_rng([20240611, FAMILIES.index(family)])
    disagreements = []
    statuses = {"optimal": 0, "infeasible": 0}
    for n in range(SPECS_PER_FAMILY):
        data = random_spec(rng, family)
        expected_status, expected_cost = linprog_answer(data)
        result = deter.solve(validate_spec_data(data))
        statuses[expected_status] += 1
        if result.status != expected_status:
            disagreements.append((n, result.status, expected_status, result.message, data))
            continue
        if expected_cost is not None:
            assert result.total_cost is not None
            if not math.isclose(result.total_cost, expected_cost, rel_tol=1e-6, abs_tol=1e-8):
                disagreements.append((n, result.total_cost, expected_cost, data))
    assert not disagreements, "\n".join(map(repr, disagreements[:5]))
    # The generator must exercise both outcomes, or the comparison proves little.
    assert statuses["optimal"] >= SPECS_PER_FAMILY // 4, statuses
    assert statuses["infeasible"] >= SPECS_PER_FAMILY // 10, statuses
