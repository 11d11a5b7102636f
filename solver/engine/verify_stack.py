"""The checks of ``verify.py`` for many policies at once: one array computation over the
members of a stack (or over one spec), with each member's actions and monitors laid end to
end (ragged arrays), so that judging a block costs a few numpy calls per stack rather than
a few hundred per member.

Every number is the one ``verify.verify_evaluated`` and ``core.outward`` compute for the
member alone: the same operations on the same operands, element by element (a block
diagonal CSR product sums each row's entries in the member's own order; dot products of
one member's vectors are taken per member, as BLAS orders them; maxima are exact, and the
sign of a zero maximum is taken from the member's own ``max`` where it could differ). Rows
within float64's error bound of 0 are decided exactly, per member, by the same routine as
``verify.incentive_rows``. ``tests/engine/test_verify_stack.py`` checks the equality, bit
for bit, on random and degenerate members.

Only members of the plain linear program are taken (:func:`takes`): linear detection
without ROC curves, fixed penalties, numbers within direct CARA range; the others are
checked one by one (``core.accept_policies``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..model.arrays import ProblemArrays
from ..model.penalties import penalty_cost_of
from ..model.utility import FloatArray
from ..results.result import Check, Verification
from .verify import (
    Checks,
    Fixed,
    PolicyEvaluation,
    decide_undecided,
    fixed_of,
    tail_checks,
)


def penalties_of(arrays: ProblemArrays) -> FloatArray:
    """The penalty of every action when none is chosen (``penalty.chosen_penalties``): the
    caps, the compliant entry being the false-positive penalty."""
    penalties = arrays.penalty_cap.copy()
    penalties[arrays.compliant] = arrays.false_positive_penalty
    return penalties


def takes(arrays: ProblemArrays) -> bool:
    """Whether ``arrays``' checks can be computed here (else ``verify.py``, one by one)."""
    return (
        arrays.detection_model == "linear"
        and not arrays.roc
        and arrays.penalty_design == "fixed"
        and isinstance(arrays.detection, sp.csr_matrix)
        and arrays.n_monitors > 0
        and len(arrays.deviations) > 0
    )


@dataclass(frozen=True)
class Ragged:
    """Members' arrays end to end: per monitor (M entries), per action (A), per deviation
    (D); ``*_start`` are each member's offsets, ``*_of`` each entry's member."""

    members: tuple[ProblemArrays, ...]
    fixed: tuple[Fixed, ...]
    monitor_start: np.ndarray
    action_start: np.ndarray
    dev_start: np.ndarray
    monitor_of: np.ndarray
    action_of: np.ndarray
    dev_of: np.ndarray
    compliant: np.ndarray  # each member's compliant action (index into A)
    dev: np.ndarray  # each deviation's action (index into A)
    detection: sp.csr_matrix  # A x M, block diagonal
    free: FloatArray
    caught: FloatArray
    free_size: FloatArray
    caught_size: FloatArray
    min_rate: FloatArray
    max_rate: FloatArray
    band: FloatArray
    positive: np.ndarray
    size: FloatArray
    margin: FloatArray  # per deviation, its member's margin in utility
    log_space: np.ndarray  # per deviation: its member's rows leave float range (stable.py)

    @classmethod
    def of(cls, members: Sequence[ProblemArrays]) -> Ragged:
        fixed = tuple(fixed_of(a, None) for a in members)
        n_monitors = np.array([a.n_monitors for a in members])
        n_actions = np.array([len(a.gain) for a in members])
        n_dev = np.array([len(a.deviations) for a in members])
        monitor_start = np.concatenate([[0], np.cumsum(n_monitors)[:-1]])
        action_start = np.concatenate([[0], np.cumsum(n_actions)[:-1]])
        dev_start = np.concatenate([[0], np.cumsum(n_dev)[:-1]])
        b = np.arange(len(members))
        dev_of = np.repeat(b, n_dev)
        matrices = [a.detection for a in members]
        nnz = np.array([m.indptr[-1] for m in matrices])
        indptr = np.concatenate(
            [[0], *[m.indptr[1:] + s for m, s in zip(matrices, np.cumsum(nnz) - nnz, strict=True)]]
        )
        detection = sp.csr_matrix(
            (
                np.concatenate([m.data[: m.indptr[-1]] for m in matrices]),
                np.concatenate(
                    [
                        m.indices[: m.indptr[-1]] + s
                        for m, s in zip(matrices, monitor_start, strict=True)
                    ]
                ),
                indptr,
            ),
            shape=(int(n_actions.sum()), int(n_monitors.sum())),
        )
        return cls(
            members=tuple(members),
            fixed=fixed,
            monitor_start=monitor_start,
            action_start=action_start,
            dev_start=dev_start,
            monitor_of=np.repeat(b, n_monitors),
            action_of=np.repeat(b, n_actions),
            dev_of=dev_of,
            compliant=action_start + np.array([a.compliant for a in members]),
            dev=np.concatenate([a.deviations for a in members]) + action_start[dev_of],
            detection=detection,
            free=np.concatenate([f.free for f in fixed]),
            caught=np.concatenate([f.caught for f in fixed]),
            free_size=np.concatenate([f.free_size for f in fixed]),
            caught_size=np.concatenate([f.caught_size for f in fixed]),
            min_rate=np.concatenate([np.asarray(a.min_rate, float) for a in members]),
            max_rate=np.concatenate([np.asarray(a.max_rate, float) for a in members]),
            band=np.concatenate([f.band for f in fixed]),
            positive=np.concatenate([f.positive for f in fixed]),
            size=np.concatenate([f.size for f in fixed]),
            margin=np.array([f.margin for f in fixed])[dev_of],
            log_space=np.array([f.overflow for f in fixed])[dev_of],
        )

    def rates_of(self, rates: FloatArray, k: int) -> FloatArray:
        start = self.monitor_start[k]
        return rates[start : start + self.members[k].n_monitors]

    def evaluate(self, rates: FloatArray) -> PolicyEvaluation:
        """``verify.evaluate_policy`` of every member, end to end (A entries)."""
        reach = np.asarray(self.detection @ rates, dtype=float)
        detection = np.minimum(1.0, reach)
        for k, arrays in enumerate(self.members):  # P_0: one dot product per member
            detection[self.compliant[k]] = float(
                np.clip(arrays.false_positive @ self.rates_of(rates, k), 0.0, 1.0)
            )
        with np.errstate(invalid="ignore", over="ignore"):
            eu = (1 - detection) * self.free + detection * self.caught
        own = self.compliant[self.action_of]
        net = eu - eu[own]
        with np.errstate(invalid="ignore"):
            terms = np.maximum((1 - detection) * self.free_size, detection * self.caught_size)
        scale = np.maximum(terms, terms[own])
        return PolicyEvaluation(detection, eu, net, scale)

    def member_evaluation(self, evaluation: PolicyEvaluation, k: int) -> PolicyEvaluation:
        part = slice(self.action_start[k], self.action_start[k] + len(self.members[k].gain))
        return PolicyEvaluation(
            evaluation.detection[part].copy(),
            evaluation.expected_utility[part].copy(),
            evaluation.net_incentive[part].copy(),
            evaluation.utility_scale[part].copy(),
        )

    def in_log_space(self, evaluation: PolicyEvaluation) -> FloatArray:
        """``stable.incentive_violation`` of every deviation (used where ``log_space``):
        the rows compared in log space, relative to their largest term, each with its
        member's numbers (the same operations, element by element)."""
        of = self.dev_of
        members = self.members
        r = np.array([a.risk_aversion for a in members])[of]
        margin = np.array([a.margin for a in members])[of]
        g0 = np.array([float(a.gain[a.compliant]) for a in members])[of]
        flag_penalty = np.array([a.false_positive_penalty for a in members])[of]
        caps = np.concatenate([a.penalty_cap[a.deviations] for a in members])
        g = np.concatenate([f.relative_gain for f in self.fixed])
        p = np.clip(evaluation.detection[self.dev], 0.0, 1.0)
        p0 = np.clip(evaluation.detection[self.compliant], 0.0, 1.0)[of]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_a_i = np.logaddexp(np.log1p(-p) - r * g, np.log(p) + r * (caps - g))
            log_a_0 = np.logaddexp(np.log1p(-p0), np.log(p0) + r * flag_penalty)
            log_m = np.where(margin > 0, np.log(np.abs(r) * margin) + r * g0, -np.inf)
            top = np.maximum(np.maximum(log_a_i, log_a_0), log_m)
            top = np.where(np.isfinite(top), top, 0.0)
            return np.asarray(
                np.sign(r) * (np.exp(log_a_0 - top) - np.exp(log_a_i - top)) + np.exp(log_m - top)
            )

    def outward(
        self, rates: FloatArray, evaluation: PolicyEvaluation, outward: float, repairable: float
    ) -> FloatArray:
        """``core.outward`` of every member (``evaluation``: at ``rates``; ``outward`` and
        ``repairable``: its ``OUTWARD`` and ``REPAIRABLE``)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            short = (evaluation.net_incentive[self.dev] + self.margin) / evaluation.utility_scale[
                self.dev
            ]
        short = np.where(np.isfinite(short), short, -np.inf)
        shortfall = np.maximum(np.maximum.reduceat(short, self.dev_start), 0.0)
        shortfall = np.where(shortfall > repairable, 0.0, shortfall)
        factor = 1.0 + 4.0 * shortfall + outward
        raised = np.minimum(rates * factor[self.monitor_of], self.max_rate)
        for k, arrays in enumerate(self.members):
            if arrays.budget is not None:
                mine = self.rates_of(raised, k)
                if float(arrays.cost @ mine) > arrays.budget:
                    mine[:] = self.rates_of(rates, k)
        return raised

    def verify(
        self, rates: FloatArray, tolerance: float
    ) -> list[tuple[Verification, PolicyEvaluation, float]]:
        """``verify.verify_evaluated`` of each member's part of ``rates`` (all finite), at
        the cost the member's policy reports (``core.accept_policy``'s, fixed penalties:
        the oversight cost), with that cost."""
        evaluation = self.evaluate(rates)
        low = _maxima(self.min_rate - rates, self.monitor_start)
        high = _maxima(rates - self.max_rate, self.monitor_start)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            value = np.asarray(evaluation.net_incentive[self.dev] + self.margin, dtype=float)
            value = np.where(self.positive, value / self.size, value)
        if self.log_space.any():  # (a row in log space has size 1: value / 1.0 is value)
            value = np.where(self.log_space, self.in_log_space(evaluation), value)
        rows = np.where(np.isnan(value), np.inf, value)
        undecided = np.abs(value) <= self.band
        for k in np.unique(self.dev_of[undecided]).tolist():
            arrays = self.members[k]
            part = slice(self.dev_start[k], self.dev_start[k] + len(arrays.deviations))
            mine = rows[part]
            decide_undecided(
                arrays, self.rates_of(rates, k), penalties_of(arrays), mine, undecided[part]
            )
        incentive = _maxima(rows, self.dev_start)
        out = []
        for k, arrays in enumerate(self.members):
            mine = self.rates_of(rates, k)
            checks = Checks()
            checks.checks.extend(
                (
                    Check("min_rate", *low[k], False),
                    Check("max_rate", *high[k], False),
                    Check("incentive", *incentive[k], True),
                )
            )
            cost = float(arrays.cost @ mine)
            # core.accept_policy's reported cost: the penalties are the caps (fixed design)
            total = cost + penalty_cost_of(arrays, arrays.penalty_cap[arrays.deviations])
            tail_checks(checks, arrays, mine, cost, None, total)
            member = self.member_evaluation(evaluation, k)
            out.append((checks.verdict(tolerance), member, total))
        return out


def _maxima(violation: FloatArray, starts: np.ndarray) -> list[tuple[float, float]]:
    """(largest violation, largest relative violation) per segment, as ``Checks.add``
    records them with a scale of 1 (``violation / 1.0 + 0.0``; NaN counts as inf).
    ``violation`` has no empty segment."""
    relative = violation / 1.0 + 0.0
    unreadable = np.isnan(relative)
    if unreadable.any():
        relative = np.where(unreadable, np.inf, relative)
        violation = np.where(np.isnan(violation), np.inf, violation)
    largest = np.maximum.reduceat(violation, starts)
    worst = np.maximum.reduceat(relative, starts)
    found = list(zip(largest.tolist(), worst.tolist(), strict=True))
    # A zero maximum's sign depends on the order the maximum met +0.0 and -0.0 in: where a
    # segment holds a -0.0 and its maximum is 0, take the member's own ``max``.
    negative_zero = (violation == 0) & np.signbit(violation)
    if negative_zero.any():
        ends = [*starts[1:].tolist(), len(violation)]
        segment = np.repeat(np.arange(len(starts)), np.diff([*starts.tolist(), len(violation)]))
        for k in np.unique(segment[negative_zero]).tolist():
            if largest[k] == 0:
                found[k] = (float(violation[starts[k] : ends[k]].max()), found[k][1])
    return found
