"""A plain-language account of an optimal policy, derived from its solution and duals.

The least-cost program is a linear program (docs/model.md). Writing lambda_i >= 0 for the
multiplier of action i's incentive row  d_i P_i - d_0 P_0 >= k_i  (cost units per unit of
the row), eta_i for that of  P_i <= sum_j q_ij x_j  and mu_j for a monitor's rate ceiling,
LP duality (e.g. Bertsimas & Tsitsiklis 1997, ch. 4, and the sensitivity analysis of 5.1)
gives every number reported here:

- shadow price of action i's gain: d cost / d g_i = lambda_i * (expected marginal utility);
- value of one unit of monitor j's rate: v_j = sum_i eta_i q_ij - zeta f_j, where zeta is the
  cost of the false flags it raises (zeta = sum_i lambda_i d_0). Stationarity says v_j = c_j
  for a monitor used at an interior rate, so its cost splits across actions in proportion
  to eta_i q_ij: that is "what the monitor buys"; v_j - c_j = mu_j > 0 at a ceiling;
  v_j < c_j for an unused monitor, which would pay for itself at a cost below v_j;
- d cost / d F_i = -lambda_i P_i u'(g_i - F_i) for a penalty cap (Becker's severity lever),
  d cost / d max_rate_j = -mu_j, d cost / d F_fp = sum_i lambda_i P_0 u'(-F_fp),
  d cost / d margin = sum_i lambda_i.
- under a penalty design (a cone program, solver/formulation/components/penalty.py)
  lambda_i is the penalty component's shadow price, d cost / d cap_i = -(lambda_i P_i - a)^+
  (stationarity in F_i), and d cost / d a = the penalty level paid for (envelope theorem).

The multipliers are the engine's (``Result.duals``, read by ``solver/engine/duals.py`` from
the program whose answer was verified and certified); a result without them (a strategic
program, a result read back from JSON) is explained without prices. These derivatives are
one-sided and local; each relaxation is therefore also re-solved at
10% slack, and the exact saving is reported beside the first-order estimate. For an
infeasible spec the account instead lists the smallest single changes (from the diagnosis)
that make it feasible, each verified by a re-solve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..spec.document import Spec
from .explain_accounts import action_accounts, monitor_accounts
from .explain_fixes import infeasible_fixes
from .explain_prose import with_paragraphs
from .explain_relaxations import RELAX, relaxations
from .explanation import ActionAccount, Explanation, Fix, MonitorAccount, Relaxation

if TYPE_CHECKING:
    from ..results.result import Result

__all__ = [
    "RELAX",
    "ActionAccount",
    "Explanation",
    "Fix",
    "MonitorAccount",
    "Relaxation",
    "explain",
]


def explain(
    spec: Spec,
    result: Result | None = None,
    *,
    solve: Callable[[Spec], Result] | None = None,
    relax: float = RELAX,
) -> Explanation:
    """Explain the optimal policy of ``spec`` (solving it unless ``result`` is given)."""
    from ..model.arrays import ProblemArrays

    if solve is None:
        from ..engine.solve import solve as solve_spec

        solve = solve_spec
    if result is None:
        result = solve(spec)
    arrays = ProblemArrays.for_design(spec)
    if result.status == "infeasible":
        explanation = Explanation(
            name=spec.name,
            currency=spec.problem.currency,
            status=result.status,
            total_cost=None,
            fixes=infeasible_fixes(spec, result, arrays, solve),
            reason=result.message,
        )
        return with_paragraphs(explanation, True)
    if result.status != "optimal" or result.solver is None:
        return Explanation(
            spec.name,
            spec.problem.currency,
            result.status,
            None,
            reason=result.message,
            paragraphs=(("No verified answer", (result.message,)),),
        )
    duals = result.duals
    explanation = Explanation(
        name=spec.name,
        currency=spec.problem.currency,
        status=result.status,
        total_cost=result.total_cost,
        actions=action_accounts(arrays, result, duals),
        monitors=monitor_accounts(arrays, result, duals),
        relaxations=relaxations(spec, arrays, result, duals, solve, relax),
        reason=result.message,
        penalty_design=arrays.penalty_design,
    )
    return with_paragraphs(explanation, duals is not None)
