"""Agent types and interval gains: the numbers of a Bayesian game, and an agent's view of a policy.

Type k has probability w_k, its own gains g_k (the spec's gains with the type's overrides) and
CARA coefficient r_k; harms and fixed deployment costs come with them. The commitment program
built on these numbers, and the derivation of its rows, are in ``formulation/commitment.py``;
the rows themselves, in log space, in ``pair_rows.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.document import Spec
from ..spec.strategy import gain_bounds
from .arrays import ProblemArrays
from .learning import learner_lift
from .utility import FloatArray

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
        base = ProblemArrays.for_design(spec)
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
        # A [learner]'s margins raise every type's deviation gains (model/learning.py).
        lift = learner_lift(spec)
        low, high = low + lift, high + lift
        # A [horizon] divides them by the present value of a delayed penalty (model/horizon.py).
        if base.present_value != 1.0:
            low, high = low / base.present_value, high / base.present_value
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


def type_detection(data: StrategicArrays, rates: FloatArray) -> FloatArray:
    """P at a policy (n): P_i = min(1, Q_i x); the compliant entry is P_0 = f.x. The rows
    that compare actions at P are built in log space (``pair_rows.py``)."""
    base = data.base
    detection = np.minimum(1.0, np.asarray(base.detection @ rates, dtype=float).ravel())
    detection[base.compliant] = float(np.clip(base.false_positive @ rates, 0.0, 1.0))
    return detection
