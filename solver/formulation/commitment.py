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

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray, caught_loss, utility
from ..spec.document import Spec
from ..spec.strategy import gain_bounds
from .components.deployment import Deployment, compile_deployment

#: Name of the single implicit type of a spec without [[types]].
BASE_TYPE = "agent"


@dataclass(frozen=True, eq=False)
class StrategicArrays:
    """The spec's arrays plus types, interval gains, harms and fixed costs."""

    base: ProblemArrays  # monitors, detection, caps, costs; gains of the untyped agent
    type_names: tuple[str, ...]
    weight: FloatArray  # w_k
    gain_low: FloatArray  # K x n
    gain_high: FloatArray  # K x n
    risk_aversion: FloatArray  # r_k
    harm: FloatArray  # h_i, the principal's loss when action i is taken
    fixed_cost: FloatArray  # per monitor
    typed: bool  # the spec declared [[types]]

    @property
    def n_types(self) -> int:
        return len(self.type_names)

    @classmethod
    def from_spec(cls, spec: Spec) -> StrategicArrays:
        base = ProblemArrays.from_spec(spec)
        bounds = np.array([gain_bounds(a.gain) for a in spec.actions], dtype=float)  # n x 2
        types = spec.types
        if not types:
            low, high = bounds[None, :, 0], bounds[None, :, 1]
            names: tuple[str, ...] = (BASE_TYPE,)
            weight = np.ones(1)
            r = np.array([spec.agent.risk_aversion])
        else:
            index = {a.name: i for i, a in enumerate(spec.actions)}
            low = np.repeat(bounds[None, :, 0], len(types), axis=0)
            high = np.repeat(bounds[None, :, 1], len(types), axis=0)
            for k, agent_type in enumerate(types):
                for action, gain in agent_type.gains.items():
                    low[k, index[action]], high[k, index[action]] = gain_bounds(gain)
            names = tuple(t.name for t in types)
            weight = np.array([t.weight for t in types], dtype=float)
            r = np.array(
                [
                    spec.agent.risk_aversion if t.risk_aversion is None else t.risk_aversion
                    for t in types
                ],
                dtype=float,
            )
        fixed = np.zeros(base.n_monitors)
        fixed[: len(spec.monitors)] = [m.fixed_cost for m in spec.monitors]
        return cls(
            base=base,
            type_names=names,
            weight=weight,
            gain_low=np.asarray(low, dtype=float),
            gain_high=np.asarray(high, dtype=float),
            risk_aversion=r,
            harm=np.array([a.harm for a in spec.actions], dtype=float),
            fixed_cost=fixed,
            typed=bool(types),
        )


@dataclass(frozen=True)
class TypeUtilities:
    """EU_ki(P) = value_ki - loss_ki P_i at the low and high ends of each gain (K x n)."""

    value_low: FloatArray
    loss_low: FloatArray
    value_high: FloatArray
    loss_high: FloatArray
    margin: FloatArray  # per type, in its utility units


def type_utilities(data: StrategicArrays) -> TypeUtilities:
    """Utilities with wealth relative to each type's low compliant gain (keeps exp in range)."""
    base = data.base
    c = base.compliant
    penalty = base.penalty_cap.copy()
    penalty[c] = base.false_positive_penalty
    parts = []
    for gains in (data.gain_low, data.gain_high):
        value = np.empty_like(gains)
        loss = np.empty_like(gains)
        for k, r in enumerate(data.risk_aversion):  # one row per type: K is small
            relative = gains[k] - data.gain_low[k, c]
            value[k] = utility(relative, float(r))
            loss[k] = caught_loss(relative, penalty, float(r))
        parts += [value, loss]
    reference = data.gain_low[:, c]
    margin = base.margin * np.where(
        data.risk_aversion != 0, np.exp(data.risk_aversion * reference), 1.0
    )
    return TypeUtilities(parts[0], parts[1], parts[2], parts[3], margin)


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
    data: StrategicArrays, assignment: Sequence[int] | None, *, budget: bool = True
) -> CommitmentProgram:
    """The least-loss commitment program for a fixed assignment of actions to types, or
    (``assignment=None``) the DOBSS program that also chooses the assignment."""
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
