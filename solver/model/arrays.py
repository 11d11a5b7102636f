"""A spec as arrays: the numeric form every formulation and check is built from.

Indices: i over actions (the compliant one included), j over monitors (declared monitors
first, then one ``audit:<action>`` per audit shorthand).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from ..spec.document import Spec
from ..spec.gains import worst_case_gain
from .envelope import RocCurve
from .horizon import present_value_factor
from .learning import learner_margins
from .utility import FloatArray


def largest_magnitudes(matrix: sp.spmatrix, axis: int) -> FloatArray:
    """The largest |entry| of each row (``axis=1``) or column (``axis=0``) of a sparse
    matrix, 0 for an empty one. A spec without monitors or deviations has matrices with no
    columns or rows, where scipy's ``max`` raises (issue 20)."""
    shape = matrix.shape
    if shape[axis] == 0:  # nothing to reduce over: every row (column) is empty
        return np.zeros(shape[1 - axis], dtype=float)
    return np.asarray(abs(sp.csr_matrix(matrix)).max(axis=axis).todense(), dtype=float).ravel()


def largest_magnitude(matrix: sp.spmatrix) -> float:
    """The largest |entry| of a sparse matrix, 0 for an empty one."""
    data = sp.csr_matrix(matrix).data
    return float(np.max(np.abs(data), initial=0.0))


def detection_matrix(
    rows: list[int], cols: list[int], vals: list[float], shape: tuple[int, int]
) -> sp.csr_matrix:
    """The CSR matrix with ``vals`` at ``(rows, cols)`` (each pair at most once, ``cols`` in
    increasing order): the arrays ``csr_matrix((vals, (rows, cols)))`` makes, built
    directly, without the COO matrix and conversion scipy's constructor goes through
    (a quarter of the cost per spec, where a batch worker makes one for every spec)."""
    row = np.asarray(rows, dtype=np.int32)
    order = np.argsort(row, kind="stable")  # by action; each action's monitors stay in order
    indptr = np.zeros(shape[0] + 1, dtype=np.int32)
    np.cumsum(np.bincount(row, minlength=shape[0]), out=indptr[1:])
    indices = np.asarray(cols, dtype=np.int32)[order]
    data = np.asarray(vals, dtype=float)[order]
    return sp.csr_matrix((data, indices, indptr), shape=shape)


@dataclass(frozen=True, eq=False)
class ProblemArrays:
    action_names: tuple[str, ...]
    compliant: int
    gain: FloatArray  # g_i
    penalty_cap: FloatArray  # F_i (0 for the compliant action)
    monitor_names: tuple[str, ...]
    cost: FloatArray  # c_j
    min_rate: FloatArray
    max_rate: FloatArray
    detection: sp.csr_matrix  # q_ij = P(caught | action i, monitor j applied); compliant row 0
    false_positive: FloatArray  # f_j
    risk_aversion: float
    margin: float
    false_positive_penalty: float
    budget: float | None
    # Penalty design and detection model (issue 4); the defaults are spec format v1's.
    penalty_design: str = "fixed"  # "fixed" | "per_action" | "shared"
    penalty_cost: float = 0.0  # a, per unit of penalty level
    detection_model: str = "linear"  # "linear" | "exponential"
    roc: tuple[RocCurve, ...] = ()  # monitors described by ROC curves, one per (action, monitor)
    # The spec's gains when ``gain`` carries a [learner]'s margins or a [horizon]'s scaling
    # (for_design); else empty.
    spec_gain: FloatArray = field(default_factory=lambda: np.zeros(0))
    # kappa = (gamma rho)^d of a [horizon] (model/horizon.py): for_design divides gains and
    # margin by it, so a utility in these arrays times kappa is one in the agent's money.
    present_value: float = 1.0

    @property
    def stated_gain(self) -> FloatArray:
        """The spec's gains g_i, without a learner's margins (what results report)."""
        return self.spec_gain if self.spec_gain.size else self.gain

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def n_monitors(self) -> int:
        return len(self.monitor_names)

    @functools.cached_property
    def deviations(self) -> np.ndarray:
        """Indices of the non-compliant actions, in spec order (read-only: computed once,
        every judging step of every answer reads it)."""
        out = np.array([i for i in range(self.n_actions) if i != self.compliant], dtype=int)
        out.setflags(write=False)
        return out

    @classmethod
    def for_design(cls, spec: Spec) -> ProblemArrays:
        """The arrays the engine designs for: a ``[learner]``'s margins (model/learning.py)
        raise each deviation's gain, so the program (and its verification and certificate)
        demands EU_i + m_i <= EU_0; a ``[horizon]`` (model/horizon.py) divides every gain and
        the margin by kappa, the present value of a delayed penalty, which is the same
        constraint for a risk-neutral agent. Simulation keeps :meth:`from_spec`: agents gain
        g_i and pay penalties at once."""
        arrays = cls.from_spec(spec)
        if spec.learner is None and spec.horizon is None:
            return arrays
        kappa = present_value_factor(spec)
        gain = arrays.gain + learner_margins(spec)
        if kappa != 1.0:
            gain = gain / kappa
        return replace(
            arrays,
            gain=gain,
            margin=arrays.margin / kappa,
            spec_gain=arrays.gain,
            present_value=kappa,
        )

    @classmethod
    def from_spec(cls, spec: Spec) -> ProblemArrays:
        names = tuple(a.name for a in spec.actions)
        index = {name: i for i, name in enumerate(names)}
        compliant = index[spec.compliant_action]
        monitors = spec.all_monitors()
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for j, monitor in enumerate(monitors):
            for action, q in monitor.detects.items():
                if q > 0:
                    rows.append(index[action])
                    cols.append(j)
                    vals.append(q)
        detection = detection_matrix(rows, cols, vals, (len(names), len(monitors)))
        cap = np.array([spec.penalty_cap(a) for a in spec.actions], dtype=float)
        cap[compliant] = 0.0
        return cls(
            action_names=names,
            compliant=compliant,
            # Interval gains: deterrence binds at a deviation's high end and compliance's low
            # end (spec_strategy.worst_case_gain); a plain number is its own interval.
            gain=np.array(
                [worst_case_gain(a.gain, i == compliant) for i, a in enumerate(spec.actions)],
                dtype=float,
            ),
            penalty_cap=cap,
            monitor_names=tuple(m.name for m in monitors),
            cost=np.array([m.cost for m in monitors], dtype=float),
            min_rate=np.array([m.min_rate for m in monitors], dtype=float),
            max_rate=np.array([m.max_rate for m in monitors], dtype=float),
            detection=detection,
            false_positive=np.array([m.false_positive for m in monitors], dtype=float),
            risk_aversion=spec.agent.risk_aversion,
            margin=spec.agent.margin,
            false_positive_penalty=spec.agent.false_positive_penalty,
            budget=spec.oversight.budget,
            penalty_design=spec.penalty.design,
            penalty_cost=spec.penalty.cost,
            detection_model=spec.oversight.detection,
            roc=tuple(
                RocCurve(index[action], j, np.asarray(points, dtype=float).reshape(-1, 2))
                for j, monitor in enumerate(monitors)
                for action, points in (monitor.roc or {}).items()
            ),
        )
