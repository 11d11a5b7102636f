"""Typed programs proven infeasible: no assignment of actions to types is induced by any
allowed policy (docs/model.md, "Agent types").

With several types the least loss (``objective = "min_loss"``) is found by the DOBSS
mixed-integer program (``strategic.solve_dobss``), whose "infeasible" is the branch and
bound's word, not a proof. A typed program is infeasible exactly when every assignment
(an action for each type, each its best response by the margin, ties to the principal) is,
so the proof checks assignments with the fixed-assignment certificate
(``infeasibility.certify_commitment_infeasible``, checked in exact arithmetic):

1. each (type, action) pair alone (that type's rows, the rate bounds, the budget): a pair
   proven infeasible alone is in no feasible assignment, and a type with every pair proven
   so makes the program infeasible;
2. otherwise every assignment of the pairs left, each certified, when there are at most
   ``MAX_ASSIGNMENTS`` (the types then conflict only through the policy they share: one
   type induced only at high rates, another only at low ones).

Assignments already proven infeasible (a DOBSS polish's certificate) are not checked again.
Where a pair or an assignment has no certificate, nothing is claimed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection
from dataclasses import replace

from ..model.types import StrategicArrays
from .infeasibility import certify_commitment_infeasible

#: The most assignments the proof certifies one by one.
MAX_ASSIGNMENTS = 64


def infeasible_alone(data: StrategicArrays, k: int, a: int) -> bool:
    """Is type ``k`` taking action ``a`` proven infeasible by its own rows (the rate bounds
    and the budget, every other type left out)?"""
    one = replace(
        data,
        type_names=(data.type_names[k],),
        weight=data.weight[[k]],
        gain_low=data.gain_low[[k]],
        gain_high=data.gain_high[[k]],
        risk_aversion=data.risk_aversion[[k]],
    )
    return certify_commitment_infeasible(one, (a,), True) is not None


def prove_no_assignment(
    data: StrategicArrays,
    pairs: Collection[tuple[int, int]] = (),
    assignments: Collection[tuple[int, ...]] = (),
) -> str | None:
    """Why no policy induces any assignment (the module docstring), or None without a proof.

    ``pairs`` and ``assignments``: (type, action) pairs and whole assignments already proven
    infeasible."""
    names = data.base.action_names
    left: list[list[int]] = []
    for k, type_name in enumerate(data.type_names):
        actions = [
            a
            for a in range(data.base.n_actions)
            if (k, a) not in pairs and not infeasible_alone(data, k, a)
        ]
        if not actions:
            return (
                f"proven infeasible: no action of type {type_name!r} is its best response by "
                "the margin at any allowed policy (each action certified infeasible alone)"
            )
        left.append(actions)
    count = math.prod(len(actions) for actions in left)
    if count > MAX_ASSIGNMENTS:
        return None
    proven = set(assignments)
    for assignment in itertools.product(*left):
        if assignment in proven:
            continue
        if certify_commitment_infeasible(data, assignment, True) is None:
            return None
    shown = "; ".join(
        f"{data.type_names[k]}: {', '.join(names[a] for a in actions)}"
        for k, actions in enumerate(left)
    )
    return (
        f"proven infeasible: each of the {count} assignment(s) of the actions no type rules "
        f"out alone ({shown}) is certified infeasible"
    )
