"""Agent types, interval gains and the commitment program they share with ``min_loss``.

Types (a Bayesian game). Type k has probability w_k, its own gains g_k (the spec's gains
with the type's overrides) and CARA coefficient r_k. Its expected utility of action i under
detection P (P_0 = f.x false flags for the compliant action, P_i = min(1, Q_i x) otherwise) is

    EU_ki(P) = u_k(g_ki) - P_i d_ki,    d_ki = u_k(g_ki) - u_k(g_ki - F_i),

with F_0 the false-positive penalty, wealth measured relative to the type's compliant gain.

The principal commits to rates x (and deployments z, ``features/deployment.py``); each type
then takes a best response, ties broken in the principal's favour (strong Stackelberg
equilibrium). "Type k takes a_k" is the set of linear rows, for every other action i,

    EU^lo_{k a}(P) - EU^hi_{k i}(P) >= margin_k                                   (IC)

where ``lo``/``hi`` are the ends of interval gains: a_k must be a best response for every
gain in the intervals, and since EU increases with the gain (for any r) the binding case is
a_k at its low end against i at its high end. Under deter_all a_k is the compliant action
for every type: the rows of all types are simply stacked (still a linear program).

Under min_loss with several types the assignment itself is chosen: the DOBSS mixed-integer
program (Paruchuri, Pita, Marecki, Ordonez & Kraus, "Playing games for security: an efficient
exact algorithm for solving Bayesian Stackelberg games", AAMAS 2008): binaries y_ka with
sum_a y_ka = 1 select each type's action, row (k, a, i) is relaxed by a big-M term
M_kai (1 - y_ka) with M_kai the row's largest possible violation (so it is exact, not a
heuristic bound), and the objective adds sum_k w_k sum_a y_ka harm_a.

Detection must be exact on both sides: an action that some type takes appears with a minus
sign (large detection hurts the constraint), one it avoids with a plus sign. P_i is a
variable with P_i <= Q_i x, P_i <= 1 (exact where it only needs to be large), and for an
action that may be taken also P_i >= Q_i x, or, when Q_i x can exceed 1, a binary s_i with
P_i >= Q_i x - M_i s_i and P_i >= s_i, which makes P_i = min(1, Q_i x) exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.pair_rows import all_pairs, log_row_factor, pair_logs, scaled_rows
from ..model.types import StrategicArrays, type_detection
from ..model.utility import FloatArray
from .components.deployment import Deployment, compile_deployment
from .program import SolveRecord, solve_problem


@dataclass
class CommitmentProgram:
    """A compiled commitment program and handles on the variables reports need."""

    problem: cp.Problem
    rates: cp.Variable
    deployment: Deployment
    choice: cp.Variable | None  # y (K x n) under DOBSS; None for a fixed assignment
    assignment: tuple[int, ...] | None
    scale: float  # the objective's money units per program unit
    # For a fixed assignment: the incentive rows (R P + b >= 0), their (k, a, i) pairs and the
    # log of the factor each row was divided by, so that shadow prices can be read from
    # the duals.
    incentive: cp.Constraint | None = None
    pairs: np.ndarray | None = None
    log_row_scale: FloatArray | None = None

    def induced(self) -> tuple[int, ...]:
        """Each type's action: the fixed assignment, or argmax of y."""
        if self.assignment is not None:
            return self.assignment
        assert self.choice is not None and self.choice.value is not None
        return tuple(int(a) for a in np.argmax(np.asarray(self.choice.value), axis=1))

    def solve(self, solver: str, **options: Any) -> SolveRecord:
        return solve_problem(self.problem, solver, **options)

    def shadow_prices(self, data: StrategicArrays, rates: FloatArray) -> dict[str, float] | None:
        """d(least oversight cost)/d(g_j) with the induced action held, from the rows' duals.

        Only where the program is one linear program for one agent with point gains (no
        binaries, whose programs have no duals; types and intervals have no single gain g_j).
        Row t = (a, i) is EU_a - EU_i - margin >= 0 divided by s_t, the objective divided by
        ``scale``, so by the envelope theorem
        d/dg_j = scale sum_t lambda_t / s_t ([i_t = j] - [a_t = j]) EU'_j with
        EU'_j = (1 - P_j) u'(g_j) + P_j u'(g_j - F_j), as for the core program's rows.
        The compliant action's entry is 0, as there.
        """
        base = data.base
        if (
            self.incentive is None
            or self.pairs is None
            or self.log_row_scale is None
            or data.typed
            or not np.array_equal(data.gain_low, data.gain_high)
            or self.problem.is_mixed_integer()
        ):
            return None
        dual = self.incentive.dual_value
        if dual is None:
            return None
        dual = np.maximum(np.atleast_1d(np.asarray(dual, dtype=float)), 0.0)
        c = base.compliant
        r = float(data.risk_aversion[0])
        relative = data.gain_low[0] - data.gain_low[0, c]
        penalty = base.penalty_cap.copy()
        penalty[c] = base.false_positive_penalty
        p = np.clip(type_detection(data, rates), 0.0, 1.0)
        # log EU'_j, so that dual / s_t x EU'_j is one exponential (s_t and EU'_j may both
        # be beyond float range for a risk-seeking agent; their ratio is not)
        with np.errstate(divide="ignore"):
            log_marginal = np.logaddexp(
                np.log1p(-p) - r * relative, np.log(p) - r * (relative - penalty)
            )
        n = base.n_actions
        i, a = self.pairs[:, 2], self.pairs[:, 1]
        with np.errstate(over="ignore", invalid="ignore"):
            to_i = dual * np.exp(log_marginal[i] - self.log_row_scale)
            to_a = dual * np.exp(log_marginal[a] - self.log_row_scale)
        prices = self.scale * (
            np.bincount(i, weights=to_i, minlength=n) - np.bincount(a, weights=to_a, minlength=n)
        )
        prices[c] = 0.0
        return {name: float(prices[j]) for j, name in enumerate(base.action_names)}


def incentive_rows(
    data: StrategicArrays, pairs: np.ndarray
) -> tuple[sp.csr_matrix, FloatArray, FloatArray, FloatArray]:
    """(R, b, M, log s) with row t of (IC) for pair t = (k, a, i) written as R_t P + b_t >= 0.

    Built in log space (``model/pair_rows.py``): row t is the model's row divided by s_t,
    e^{its largest term} / |r_k|, so its numbers are at most about 1 for any gains and r
    (a risk-seeking type's exp(|r| g) can leave binary64); log s_t is returned, as s_t
    itself may not be a float. M_t = max(0, -(b_t + R_ta)) is the largest violation the
    row can have for P in [0, 1]^n (P_a = 1, P_i = 0), the exact big-M of DOBSS.
    """
    a, i = pairs[:, 1], pairs[:, 2]
    n = data.base.n_actions
    rows = np.arange(len(pairs))
    logs = pair_logs(data, pairs)
    scaled = scaled_rows(logs)
    coefficients = sp.csr_matrix(
        (
            np.concatenate([scaled.own, scaled.other]),
            (np.concatenate([rows, rows]), np.concatenate([a, i])),
        ),
        shape=(len(pairs), n),
    )
    big_m = np.maximum(0.0, -(scaled.constant + scaled.own))
    return coefficients.tocsr(), scaled.constant, big_m, log_row_factor(logs, scaled.log_scale)


def build_commitment_program(
    data: StrategicArrays,
    assignment: Sequence[int] | None,
    *,
    budget: bool = True,
    excluded: Sequence[Sequence[int]] = (),
    forbidden: Sequence[tuple[int, int]] = (),
) -> CommitmentProgram:
    """The least-loss commitment program for a fixed assignment of actions to types, or
    (``assignment=None``) the DOBSS program that also chooses the assignment; DOBSS may
    not choose an ``excluded`` assignment (a no-good cut) nor a ``forbidden`` (type,
    action) pair (``strategic.solve_dobss``: both proven infeasible)."""
    base = data.base
    n, m = base.n_actions, base.n_monitors
    c = base.compliant
    x = cp.Variable(m, name="rates")
    p = cp.Variable(n, name="detection")
    q = base.detection.tocsr()
    constraints: list[cp.Constraint] = [
        x >= base.min_rate,
        x <= base.max_rate,
        p >= 0,
        p <= 1,
        p[c] == base.false_positive @ x,
    ]
    deviations = base.deviations
    if deviations.size:
        constraints.append(p[deviations] <= q[deviations] @ x)
    # Actions that may be taken need their detection exact from above as well.
    takers = set(range(n)) if assignment is None else set(assignment)
    exact = np.array(sorted(takers - {c}), dtype=int)
    if exact.size:
        reach = np.asarray(q[exact] @ base.max_rate).ravel()
        plain, saturable = exact[reach <= 1.0], exact[reach > 1.0]
        if plain.size:
            constraints.append(p[plain] >= q[plain] @ x)
        if saturable.size:
            s = cp.Variable(saturable.size, boolean=True, name="saturated")
            constraints += [
                p[saturable] >= q[saturable] @ x - cp.multiply(reach[reach > 1.0], s),
                p[saturable] >= s,
            ]
    deployment = compile_deployment(x, base.max_rate, data.fixed_cost)
    constraints += list(deployment.constraints.values())
    pairs = all_pairs(data.n_types, n, assignment)
    coefficients, constant, big_m, log_row_scale = incentive_rows(data, pairs)
    choice = None
    incentive: cp.Constraint | None = None
    if assignment is None:
        choice = cp.Variable((data.n_types, n), boolean=True, name="choice")
        constraints.append(cp.sum(choice, axis=1) == 1)
        for taken in excluded:
            constraints.append(
                cp.sum(cp.hstack([choice[k, a] for k, a in enumerate(taken)])) <= len(taken) - 1
            )
        for k, a in forbidden:
            constraints.append(choice[k, a] == 0)
        flat = cp.vec(choice, order="C")
        selected = sp.csr_matrix(
            (np.ones(len(pairs)), (np.arange(len(pairs)), pairs[:, 0] * n + pairs[:, 1])),
            shape=(len(pairs), data.n_types * n),
        )
        constraints.append(coefficients @ p + constant >= cp.multiply(big_m, selected @ flat - 1))
        harm = cp.sum(cp.multiply(data.weight[:, None] * data.harm[None, :], choice))
    else:
        if len(pairs):
            incentive = coefficients @ p + constant >= 0
            constraints.append(incentive)
        harm = float(data.weight @ data.harm[list(assignment)])
    oversight = base.cost @ x + deployment.cost
    if budget and base.budget is not None:
        constraints.append(oversight <= base.budget)
    scale = float(
        max(
            np.max(base.cost, initial=0.0),
            np.max(data.fixed_cost, initial=0.0),
            np.max(data.harm, initial=0.0),
            1e-12,
        )
    )
    if scale <= 1e-12:
        scale = 1.0
    problem = cp.Problem(cp.Minimize((oversight + harm) / scale), constraints)
    return CommitmentProgram(
        problem=problem,
        rates=x,
        deployment=deployment,
        choice=choice,
        assignment=None if assignment is None else tuple(assignment),
        scale=scale,
        incentive=incentive,
        pairs=pairs,
        log_row_scale=log_row_scale,
    )
