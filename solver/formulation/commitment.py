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

from ..model.types import StrategicArrays, TypeUtilities, type_utilities, type_view
from ..model.utility import FloatArray, expected_marginal_utility
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
    # factor each row was divided by, so that shadow prices can be read from the duals.
    incentive: cp.Constraint | None = None
    pairs: np.ndarray | None = None
    row_scale: FloatArray | None = None

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
            or self.row_scale is None
            or data.typed
            or not np.array_equal(data.gain_low, data.gain_high)
            or self.problem.is_mixed_integer()
        ):
            return None
        dual = self.incentive.dual_value
        if dual is None:
            return None
        weight = np.maximum(np.atleast_1d(np.asarray(dual, dtype=float)), 0.0) / self.row_scale
        c = base.compliant
        r = float(data.risk_aversion[0])
        relative = data.gain_low[0] - data.gain_low[0, c]
        penalty = base.penalty_cap.copy()
        penalty[c] = base.false_positive_penalty
        p = type_view(data, rates).detection
        marginal = expected_marginal_utility(relative, penalty, p, r)
        n = base.n_actions
        pulls = np.bincount(self.pairs[:, 2], weights=weight, minlength=n) - np.bincount(
            self.pairs[:, 1], weights=weight, minlength=n
        )
        with np.errstate(invalid="ignore", over="ignore"):
            prices = self.scale * pulls * marginal
        prices[c] = 0.0
        return {name: float(prices[j]) for j, name in enumerate(base.action_names)}


def incentive_rows(
    data: StrategicArrays, utilities: TypeUtilities, pairs: np.ndarray
) -> tuple[sp.csr_matrix, FloatArray, FloatArray, FloatArray]:
    """(R, b, M, s) with row t of (IC) for pair t = (k, a, i) written as R_t P + b_t >= 0.

    M_t = max(0, -(b_t - loss^lo_ka)) is the largest violation the row can have for P in
    [0, 1]^n (P_a = 1, P_i = 0), the exact big-M of DOBSS. Row t of (R, b, M) is the model's
    row divided by s_t.
    """
    k, a, i = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    n = data.base.n_actions
    rows = np.arange(len(pairs))
    coefficients = sp.csr_matrix(
        (
            np.concatenate([-utilities.loss_low[k, a], utilities.loss_high[k, i]]),
            (np.concatenate([rows, rows]), np.concatenate([a, i])),
        ),
        shape=(len(pairs), n),
    )
    constant = utilities.value_low[k, a] - utilities.value_high[k, i] - utilities.margin[k]
    big_m = np.maximum(0.0, -(constant - utilities.loss_low[k, a]))
    # Rows are divided by their largest coefficient so that exp-scaled utilities stay O(1).
    scale = np.maximum(
        1.0, np.maximum(np.abs(utilities.loss_low[k, a]), np.abs(utilities.loss_high[k, i]))
    )
    scale = np.maximum(scale, np.abs(constant))
    inverse = sp.diags(1.0 / scale)
    return (inverse @ coefficients).tocsr(), constant / scale, big_m / scale, scale


def all_pairs(n_types: int, n_actions: int, assignment: Sequence[int] | None) -> np.ndarray:
    """(k, a, i) triples: for each type its assigned a (or every a), and every i != a."""
    triples = []
    for k in range(n_types):
        candidates = range(n_actions) if assignment is None else (assignment[k],)
        for a in candidates:
            triples += [(k, a, i) for i in range(n_actions) if i != a]
    return np.array(triples, dtype=int).reshape(-1, 3)


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
    utilities = type_utilities(data)
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
    coefficients, constant, big_m, row_scale = incentive_rows(data, utilities, pairs)
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
        row_scale=row_scale,
    )
