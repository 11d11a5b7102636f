"""Exponential detection with false flags: the node program of the global search.

The rows are  w_i P_i(x) - v_i P_0(x) >= n_i  with P_i = 1 - exp(-L_i x) (concave: its
hypograph is an exponential cone) and P_0 = g(s) = 1 - exp(-s), s = phi x, which enters with
a minus sign. P_0 depends on x only through the one number s, so a box a <= s <= b and any
line below or above g on it give a convex program:

* the secant of g on [a, b] lies below g (g is concave): with u >= secant(s) the program
  is a *relaxation* of the model on that box (its point gives the tangents of the box's
  linear relaxation, whose exactly evaluated Lagrangian bound is the box's bound:
  ``engine/flag_search.py``; its optimum itself is not trusted as one);
* a tangent of g lies above g everywhere: with u >= tangent(s) it is a *restriction*, and
  each of its solutions deters under the exact model (an upper bound).

Both are the same program  u >= intercept + slope * s  with other numbers, so it is compiled
once per shape and re-solved through Parameters (DPP). The search over boxes of s is
``engine/flag_search.py`` (docs/model.md, "Diminishing returns").
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from ..model.arrays import ProblemArrays
from ..model.detection import log_escape
from ..model.utility import FloatArray
from .components.deterrence import Deterrence
from .components.monitoring import cost_scale
from .program import solve_problem

#: Clarabel's tolerances for a node (its defaults, 1e-8, leave cone programs about 1e-6 off).
NODE_OPTIONS = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_iter": 400}


def false_flags_couple(arrays: ProblemArrays) -> bool:
    """Exponential detection whose rows carry a false-flag term (a concave P_0 with a minus
    sign): what the global search is for. Without one the rows are linear thresholds."""
    if arrays.detection_model != "exponential" or arrays.roc:
        return False
    if arrays.penalty_design != "fixed" or arrays.false_positive_penalty == 0:
        return False
    if not bool(np.any(np.asarray(arrays.false_positive) > 0)):
        return False
    flag_weight = np.asarray(Deterrence().values(arrays)["false_flag_weight"], dtype=float)
    return bool(np.any(flag_weight > 0))


@dataclass(frozen=True)
class FlagRows:
    """The model's rows w_i P_i - v_i P_0 >= n_i as the program holds them (each divided by
    the caught loss d_i, as ``Deterrence``), and the intensities of P_i and P_0."""

    intensity: FloatArray  # L_i, dense, one row per deviation
    weight: FloatArray  # w_i (1, or 0 where the caught loss is 0)
    flag_weight: FloatArray  # v_i = d_0 / d_i
    need: FloatArray  # n_i
    flag_intensity: FloatArray  # phi

    @staticmethod
    def of(arrays: ProblemArrays) -> FlagRows:
        values = Deterrence().values(arrays)
        dev = arrays.deviations
        intensity = log_escape(arrays.detection[dev])
        dense = np.asarray(intensity.toarray() if hasattr(intensity, "toarray") else intensity)
        return FlagRows(
            intensity=np.asarray(dense, dtype=float).reshape(len(dev), arrays.n_monitors),
            weight=np.broadcast_to(np.asarray(values["detection_weight"], float), dev.shape),
            flag_weight=np.broadcast_to(np.asarray(values["false_flag_weight"], float), dev.shape),
            need=np.broadcast_to(np.asarray(values["need"], float), dev.shape),
            flag_intensity=np.asarray(log_escape(arrays.false_positive), dtype=float),
        )

    def flags(self, rates: FloatArray) -> float:
        """s = phi x."""
        return math.fsum((self.flag_intensity * np.asarray(rates, dtype=float)).tolist())


@dataclass(frozen=True)
class NodeSolve:
    """One solve of the node program: its status, optimum (money) and point."""

    status: str
    value: float | None
    rates: FloatArray | None
    flags: float | None  # s = phi x at the solution
    incentive_dual: FloatArray | None  # the rows' multipliers (program units)
    raw: Any = field(default=None, repr=False, compare=False)  # Clarabel's own solution

    @property
    def solved(self) -> bool:
        return self.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and self.rates is not None

    @property
    def infeasible(self) -> bool:
        return self.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


class NodeProgram:
    """min c x / scale  s.t.  w_i p_i - v_i u >= n_i,  p_i <= 1 - exp(-L_i x),
    u >= intercept + slope s,  s = phi x,  a <= s <= b,  lo <= x <= hi  (c x <= B)."""

    def __init__(self, n_rows: int, n_monitors: int, budget: bool) -> None:
        m = n_monitors
        self.rates = cp.Variable(m)
        detection = cp.Variable(n_rows)
        flag = cp.Variable()
        s = cp.Variable()
        self.s = s
        self.intensity = cp.Parameter((n_rows, m), nonneg=True)
        self.weight = cp.Parameter(n_rows, nonneg=True)
        self.flag_weight = cp.Parameter(n_rows, nonneg=True)
        self.need = cp.Parameter(n_rows)
        self.flag_intensity = cp.Parameter(m, nonneg=True)
        self.cost = cp.Parameter(m, nonneg=True)
        self.lower = cp.Parameter(m)
        self.upper = cp.Parameter(m)
        self.slope = cp.Parameter(nonneg=True)
        self.intercept = cp.Parameter()
        self.start = cp.Parameter()
        self.end = cp.Parameter()
        self.budget = cp.Parameter() if budget else None
        self.incentive = (
            cp.multiply(self.weight, detection) - cp.multiply(self.flag_weight, flag) >= self.need
        )
        # the rows whose multipliers price the spec's constraints (``bound_duals``)
        self.floor = self.rates >= self.lower
        self.ceiling = self.rates <= self.upper
        self.from_start = s >= self.start
        self.to_end = s <= self.end
        self.spend = None if self.budget is None else self.cost @ self.rates <= self.budget
        constraints = [
            self.incentive,
            detection <= 1 - cp.exp(-(self.intensity @ self.rates)),
            flag >= self.intercept + self.slope * s,
            s == self.flag_intensity @ self.rates,
            self.from_start,
            self.to_end,
            self.floor,
            self.ceiling,
        ]
        if self.spend is not None:
            constraints.append(self.spend)
        self.problem = cp.Problem(cp.Minimize(self.cost @ self.rates), constraints)
        self.scale = 1.0

    def load(self, arrays: ProblemArrays, rows: FlagRows) -> None:
        self.scale = cost_scale(arrays)
        self.intensity.value = rows.intensity
        self.weight.value = np.asarray(rows.weight, dtype=float)
        self.flag_weight.value = np.asarray(rows.flag_weight, dtype=float)
        self.need.value = np.asarray(rows.need, dtype=float)
        self.flag_intensity.value = rows.flag_intensity
        self.cost.value = np.asarray(arrays.cost, dtype=float) / self.scale
        self.lower.value = np.asarray(arrays.min_rate, dtype=float)
        self.upper.value = np.asarray(arrays.max_rate, dtype=float)
        if self.budget is not None and arrays.budget is not None:
            self.budget.value = float(arrays.budget) / self.scale

    def solve(self, start: float, end: float, slope: float, intercept: float) -> NodeSolve:
        """Solve over start <= s <= end with u >= intercept + slope s (Clarabel)."""
        self.start.value, self.end.value = float(start), float(end)
        self.slope.value, self.intercept.value = max(float(slope), 0.0), float(intercept)
        try:
            # no warm start: Clarabel's in-place update carried one spec's state to the next
            record = solve_problem(self.problem, "CLARABEL", **NODE_OPTIONS)
        except (cp.SolverError, ValueError, ArithmeticError) as error:
            return NodeSolve(f"error: {error}", None, None, None, None)
        status = record.status
        rates = self.rates.value
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or rates is None:
            return NodeSolve(status, None, None, None, None)
        value = float(self.problem.value) * self.scale
        dual = self.incentive.dual_value
        return NodeSolve(
            status,
            value,
            np.asarray(rates, dtype=float).copy(),
            float(self.s.value) if self.s.value is not None else None,
            None if dual is None else np.atleast_1d(np.asarray(dual, dtype=float)).copy(),
            record.raw,
        )


@dataclass(frozen=True)
class BoundDuals:
    """The last solve's multipliers of the rate floors and ceilings, of s >= start and
    s <= end, and of the budget, in program units (objective c x / scale); zeros where the
    solver returned none."""

    floor: FloatArray
    ceiling: FloatArray
    start: float
    end: float
    budget: float


def bound_duals(program: NodeProgram) -> BoundDuals:
    """:class:`BoundDuals` of ``program``'s last solve (negative round-off clipped)."""
    m = int(program.rates.shape[0])

    def dual(constraint: cp.Constraint | None, size: int) -> FloatArray:
        value = None if constraint is None else constraint.dual_value
        if value is None:
            return np.zeros(size)
        return np.maximum(np.broadcast_to(np.asarray(value, dtype=float), (size,)), 0.0)

    return BoundDuals(
        floor=dual(program.floor, m),
        ceiling=dual(program.ceiling, m),
        start=float(dual(program.from_start, 1)[0]),
        end=float(dual(program.to_end, 1)[0]),
        budget=float(dual(program.spend, 1)[0]),
    )


_cache: OrderedDict[tuple[int, int, bool], NodeProgram] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 16


def node_program(arrays: ProblemArrays, rows: FlagRows) -> NodeProgram:
    """The node program for ``arrays``, compiled once per shape and loaded with its numbers.
    A program is taken out of the cache while in use (threads of one process may search at
    once) and put back after by :func:`release`."""
    key = (len(rows.need), arrays.n_monitors, arrays.budget is not None)
    with _lock:
        program = _cache.pop(key, None)
    if program is None:
        program = NodeProgram(*key)
    program.load(arrays, rows)
    return program


def release(program: NodeProgram) -> None:
    key = (
        int(program.need.shape[0]) if program.need.shape else 0,
        int(program.rates.shape[0]),
        program.budget is not None,
    )
    with _lock:
        _cache[key] = program
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
