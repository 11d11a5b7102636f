"""Full deterrence: for every non-compliant action i, complying pays at least as much.

Incentive compatibility (Becker 1968, with CARA utility u as in Allingham & Sandmo 1972):

    (1 - P_i) u(g_i) + P_i u(g_i - F_i)  <=  (1 - P_0) u(g_0) + P_0 u(g_0 - F_fp) - margin

Both sides are linear in the probabilities, so with d_i = u(g_i) - u(g_i - F_i) (the utility
lost when caught), d_0 = u(g_0) - u(g_0 - F_fp) and k_i = u(g_i) - u(g_0) + margin:

    d_i P_i - d_0 P_0 >= k_i.

Wealth is measured relative to g_0 (multiplying the row by exp(r g_0) > 0) and each row is
divided by d_i, so the program holds the well-scaled rows  P_i - (d_0/d_i) P_0 >= k_i/d_i.
Ties go to the principal: an indifferent agent complies (the inequality is not strict).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ...model.arrays import ProblemArrays
from ...model.detection import detection_probability
from ...model.stable import stable_rows_of
from ...model.utility import FloatArray, caught_loss, expected_marginal_utility, utility
from .base import Component, Context, DualOf, Handles, Value
from .monitoring import cost_scale


@dataclass(frozen=True)
class IncentiveHandles(Handles):
    """The full-deterrence rows, one per non-compliant action (its dual: the shadow price)."""

    incentive: cp.Constraint


@dataclass(frozen=True)
class IncentiveRows:
    """d_i P_i - d_0 P_0 >= k_i for the non-compliant actions, in relative-wealth units."""

    loss: FloatArray  # d_i
    false_flag_loss: float  # d_0
    need: FloatArray  # k_i

    @property
    def row_scale(self) -> FloatArray:
        """What each row is divided by in the program: d_i, or 1 where d_i is 0."""
        return np.where(self.loss > 0, self.loss, 1.0)


def incentive_rows(arrays: ProblemArrays) -> IncentiveRows:
    """The rows in direct utilities: beyond exp's range (``stable.overflows``) their numbers
    are inf or nan, and the program is built from ``stable_incentive_rows`` instead.
    Computed once per live ``ProblemArrays`` (read-only arrays, like ``_program_rows``)."""
    found = _direct_rows_of.get(arrays)
    if found is None:
        found = _direct_rows(arrays)
        found.loss.flags.writeable = False
        found.need.flags.writeable = False
        _direct_rows_of[arrays] = found
    return found


def _direct_rows(arrays: ProblemArrays) -> IncentiveRows:
    r = arrays.risk_aversion
    dev = arrays.deviations
    relative_gain = arrays.gain[dev] - arrays.gain[arrays.compliant]
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(np.exp(r * arrays.gain[arrays.compliant])) if r else 1.0
        return IncentiveRows(
            loss=caught_loss(relative_gain, arrays.penalty_cap[dev], r),
            false_flag_loss=float(caught_loss(0.0, arrays.false_positive_penalty, r)),
            need=utility(relative_gain, r) + (arrays.margin * scale if arrays.margin else 0.0),
        )


def can_bind(arrays: ProblemArrays) -> np.ndarray:
    """Which incentive rows some allowed policy could violate (bool per deviation).

    Row i, d_i P_i - d_0 P_0 >= k_i, holds at every policy when it holds at its worst one,
    P_i = 0 and P_0 at its largest: k_i + d_0 P0_max <= 0. Such an action never pays, so its
    row constrains nothing; its numbers must not set the units the program is scaled in
    (a deviation that loses money would otherwise ask for a detection unit of 1e-300).
    """
    found = _binds_of.get(arrays)
    if found is None:
        need, flag, _ = _program_rows(arrays)
        found = _can_bind(arrays, need, flag)
        found.flags.writeable = False
        _binds_of[arrays] = found
    return found


def _most_flags(arrays: ProblemArrays) -> float:
    """P_0 at its largest: every monitor at its ceiling."""
    most_flags = float(np.max(arrays.false_positive @ arrays.max_rate, initial=0.0))
    if arrays.detection_model == "linear":
        most_flags = min(1.0, most_flags)
    return most_flags


def _can_bind(arrays: ProblemArrays, need: FloatArray, flag: FloatArray) -> np.ndarray:
    most_flags = _most_flags(arrays)
    with np.errstate(invalid="ignore", over="ignore"):
        worst = need + flag * most_flags
    return np.asarray(~(worst <= 0))  # NaN (numbers beyond range) counts as binding


#: ``incentive_rows`` of each live ``ProblemArrays`` (the result read-out prices every
#: answer's gains from them).
_direct_rows_of: weakref.WeakKeyDictionary[ProblemArrays, IncentiveRows] = (
    weakref.WeakKeyDictionary()
)
#: ``Deterrence.values`` of each live ``ProblemArrays``: a batch reads them for the spec's
#: plain and priced stacks, its certificate and its diagnosis.
_values_of: weakref.WeakKeyDictionary[ProblemArrays, dict[str, FloatArray]] = (
    weakref.WeakKeyDictionary()
)
#: ``can_bind`` of each live ``ProblemArrays`` (scaling units, certificates, diagnoses).
_binds_of: weakref.WeakKeyDictionary[ProblemArrays, np.ndarray] = weakref.WeakKeyDictionary()
#: ``_program_rows`` of each live ``ProblemArrays`` (immutable, compared by identity): a
#: batch reads a spec's rows for its stack, its checks, its rescaled units and its
#: certificate of infeasibility; computed once (read-only arrays, so that no caller can
#: change what the next one reads).
_rows_of: weakref.WeakKeyDictionary[ProblemArrays, tuple[FloatArray, FloatArray, FloatArray]] = (
    weakref.WeakKeyDictionary()
)


def _program_rows(arrays: ProblemArrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(need, false-flag weight, detection weight) of every deviation's row, as compiled
    before the rows that cannot bind are dropped."""
    found = _rows_of.get(arrays)
    if found is None:
        found = _computed_rows(arrays)
        for values in found:
            values.flags.writeable = False
        _rows_of[arrays] = found
    return found


def _computed_rows(arrays: ProblemArrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    rows = incentive_rows(arrays)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        need = rows.need / rows.row_scale
        flag_weight = rows.false_flag_loss / rows.row_scale
    weight = np.where(rows.loss > 0, 1.0, 0.0)
    if not all(np.all(np.isfinite(v)) for v in (need, flag_weight, rows.loss)):
        # CARA numbers beyond exp's range (r x gain of 1e3 and more): the same rows,
        # computed as ratios in log space (stable.py).
        need, flag_weight, weight = stable_rows_of(arrays)
    if not np.any(arrays.false_positive > 0):
        # P_0 is 0 at every policy: its term is 0, and a large weight on it would only
        # set the scale the solver judges the row in (a false-positive penalty of 1e5
        # with no false flags would hide a need of 1e-12).
        flag_weight = np.zeros_like(np.atleast_1d(flag_weight))
    need = np.asarray(need, dtype=float)
    flag_weight = np.asarray(flag_weight, dtype=float)
    weight = np.asarray(weight, dtype=float)
    return need, _like(flag_weight, need), _like(weight, need)


def _like(values: FloatArray, need: FloatArray) -> FloatArray:
    """``values`` (one per row, or one for all rows) with one entry per row of ``need``."""
    if values.shape == need.shape:
        return values
    return np.full(need.shape, float(values.ravel()[0]) if values.size else 0.0)


def prime(members: Sequence[ProblemArrays]) -> None:
    """Compute the rows of many arrays at once (a stack's members; each computed before
    is left as it is): the direct rows (``incentive_rows``), the program's rows
    (``_program_rows``), ``can_bind`` and ``Deterrence.values``, element by element the
    operations each makes for one member, each element with its member's numbers, into
    the caches they are read from. A member whose rows leave float range is computed on
    its own (``stable.py``)."""
    todo = [a for a in dict.fromkeys(members) if a not in _values_of and len(a.deviations)]
    if len(todo) < 2:
        return
    counts = [len(a.deviations) for a in todo]
    of = np.repeat(np.arange(len(todo)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)])
    r_of = np.array([a.risk_aversion for a in todo], dtype=float)
    g0 = np.array([float(a.gain[a.compliant]) for a in todo])
    flag_penalty = np.array([a.false_positive_penalty for a in todo], dtype=float)
    margin = np.array([a.margin for a in todo], dtype=float)
    g = np.concatenate([a.gain[a.deviations] - a.gain[a.compliant] for a in todo])
    f = np.concatenate([a.penalty_cap[a.deviations] for a in todo])
    r = r_of[of]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scale = np.where(r_of != 0, np.exp(r_of * g0), 1.0)
        loss = np.where(r == 0, f, np.exp(-r * g) * np.expm1(r * f) / r)
        flag_loss = np.where(
            r_of == 0, flag_penalty, np.exp(-r_of * 0.0) * np.expm1(r_of * flag_penalty) / r_of
        )
        direct_need = (
            np.where(r == 0, g, -np.expm1(-r * g) / r)
            + np.where(margin != 0, margin * scale, 0.0)[of]
        )
        row_scale = np.where(loss > 0, loss, 1.0)
        need = direct_need / row_scale
        flag_weight = flag_loss[of] / row_scale
    weight = np.where(loss > 0, 1.0, 0.0)
    # per member: its rows in float range (else stable.py, on its own), its false flags
    finite = np.isfinite(need) & np.isfinite(flag_weight) & np.isfinite(loss)
    whole = np.logical_and.reduceat(finite, starts[:-1]) if len(g) else finite
    flags = np.array([bool(np.any(a.false_positive > 0)) for a in todo])
    flag_weight = np.where(flags[of], flag_weight, 0.0)
    most_flags = np.array([_most_flags(a) for a in todo])
    with np.errstate(invalid="ignore", over="ignore"):
        worst = need + flag_weight * most_flags[of]
    binds = np.asarray(~(worst <= 0))  # NaN (numbers beyond range) counts as binding
    values = [np.where(binds, v, 0.0) for v in (need, flag_weight, weight)]
    for v in (loss, direct_need, need, flag_weight, weight, binds, *values):
        v.flags.writeable = False  # each member's entries are views of these
    for k, arrays in enumerate(todo):
        if not whole[k]:
            continue
        part = slice(starts[k], starts[k + 1])
        _direct_rows_of.setdefault(
            arrays, IncentiveRows(loss[part], float(flag_loss[k]), direct_need[part])
        )
        _rows_of.setdefault(arrays, (need[part], flag_weight[part], weight[part]))
        _binds_of.setdefault(arrays, binds[part])
        _values_of.setdefault(
            arrays,
            {
                "need": values[0][part],
                "false_flag_weight": values[1][part],
                "detection_weight": values[2][part],
            },
        )


class Deterrence(Component):
    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        """The rows' numbers; a row that cannot bind (its action never pays, ``can_bind``)
        leaves the program as 0 >= 0: its numbers (a need of -1e15, a false-flag weight of
        1e15) would only set the scale a solver judges the other rows in. The shape stays,
        so programs of one shape share their compiled form; verification still checks every
        action against the model."""
        found = _values_of.get(arrays)
        if found is None:
            need, flag_weight, weight = _program_rows(arrays)
            binds = can_bind(arrays)
            found = {
                "need": np.where(binds, need, 0.0),
                "false_flag_weight": np.where(binds, flag_weight, 0.0),
                "detection_weight": np.where(binds, weight, 0.0),
            }
            for values in found.values():
                values.flags.writeable = False  # shared by every reader of these arrays
            _values_of[arrays] = found
        return dict(found)

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> IncentiveHandles:
        need = ctx.add_data("need", values["need"])
        weight = ctx.add_data("detection_weight", values["detection_weight"], nonneg=True)
        flag_weight = ctx.add_data("false_flag_weight", values["false_flag_weight"], nonneg=True)
        return IncentiveHandles(
            ctx.constrain(
                cp.multiply(weight, ctx.detection) - flag_weight * ctx.false_flags >= need
            )
        )

    def shadow_prices(
        self, arrays: ProblemArrays, handles: Handles, dual_of: DualOf, rates: FloatArray
    ) -> dict[str, float] | None:
        assert isinstance(handles, IncentiveHandles)
        return incentive_shadow_prices(arrays, dual_of(handles.incentive), rates)


def incentive_shadow_prices(
    arrays: ProblemArrays, dual: FloatArray | None, rates: FloatArray
) -> dict[str, float]:
    """d(least oversight cost) / d(g_i), from the dual of each incentive row.

    The program's row i is the model's row divided by d_i (its ``row_scale``) with the
    objective divided by the largest cost, so the model's multiplier is
    lambda_i = scale * dual_i / d_i; and d/dg_i of (k_i - d_i P_i) is
    (1 - P_i) u'(g_i) + P_i u'(g_i - F_i), the agent's expected marginal utility.
    """
    if dual is None:
        return {}
    dual = np.maximum(np.atleast_1d(np.asarray(dual, dtype=float)), 0.0)
    rows = incentive_rows(arrays)
    dev = arrays.deviations
    r = arrays.risk_aversion
    relative = arrays.gain[dev] - arrays.gain[arrays.compliant]
    p = detection_probability(arrays, rates)[dev]
    expected_marginal = expected_marginal_utility(relative, arrays.penalty_cap[dev], p, r)
    # CARA beyond exp's range, or a rescaled row's dual beyond float range: nan -> null.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        multiplier = cost_scale(arrays) * dual / rows.row_scale
        prices = multiplier * expected_marginal
    # A row that does not bind prices its gain at 0 (0 x inf would be nan).
    prices = np.where(multiplier == 0, 0.0, np.where(np.isfinite(prices), prices, np.nan))
    return {arrays.action_names[i]: float(prices[k]) for k, i in enumerate(dev)}
