"""Building results: the pieces every formulation's answer shares.

A :class:`~deter.solver.results.result.Result` is built once, here or by the formulation's
own read-out in ``core.py`` and ``strategic.py``, with its timing already measured; nothing
changes it afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..model.types import BASE_TYPE
from ..model.utility import FloatArray
from ..results.result import Diagnosis, MonitorResult, Result, rate_bound
from ..results.status import Status
from ..results.strategy import StrategyReport, TypeOutcome
from ..spec.document import Spec


class Clock:
    """Wall-clock timing of one solve, by phase; ``total`` is read when the result is built."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    def since_start(self) -> float:
        return time.perf_counter() - self.started

    def timing(self) -> dict[str, float]:
        return {**self.phases, "total": self.since_start()}


def monitor_results(
    names: Sequence[str],
    rates: FloatArray,
    unit_cost: FloatArray,
    cost: FloatArray,
    total: float,
    min_rate: FloatArray,
    max_rate: FloatArray,
    *,
    deployed: Sequence[bool] | None = None,
    fixed_cost: FloatArray | None = None,
) -> tuple[MonitorResult, ...]:
    """One row per monitor; ``cost`` is each monitor's cost (fixed costs included) and
    ``total`` their sum, as the formulation computed it."""
    # Python floats, element by element the arrays' numbers (the same arithmetic)
    rate, unit, paid, low, high = (
        np.asarray(a, dtype=float).tolist() for a in (rates, unit_cost, cost, min_rate, max_rate)
    )
    fixed = None if fixed_cost is None else np.asarray(fixed_cost, dtype=float).tolist()
    return tuple(
        MonitorResult(
            name=name,
            rate=rate[j],
            unit_cost=unit[j],
            cost=paid[j],
            share=float(paid[j] / total) if total > 0 else 0.0,
            min_rate=low[j],
            max_rate=high[j],
            at_bound=rate_bound(rate[j], low[j], high[j]),
            deployed=None if deployed is None else bool(deployed[j]),
            fixed_cost=0.0 if fixed is None else fixed[j],
        )
        for j, name in enumerate(names)
    )


def unsolved(
    spec: Spec,
    status: Status,
    message: str,
    attempts: Sequence[str],
    clock: Clock,
    *,
    solver: str | None = None,
    diagnosis: Diagnosis | None = None,
) -> Result:
    """The result of a spec without an optimal answer (``infeasible`` or ``solver_error``)."""
    return Result(
        name=spec.name,
        file=spec.source_file,
        status=status,
        total_cost=None,
        monitors=(),
        actions=(),
        verification=None,
        solver=solver,
        currency=spec.problem.currency,
        message=message,
        diagnosis=diagnosis,
        attempts=tuple(attempts),
        timing=clock.timing(),
    )


def no_verified_answer(attempts: Sequence[str]) -> str:
    return "no solver produced a verified answer: " + "; ".join(attempts)


def harm_report(spec: Spec, compliant: str, total_cost: float) -> StrategyReport | None:
    """The strategy report of a full-deterrence answer of a spec that gives harms.

    Under full deterrence the agent complies, so the harm left is the compliant action's
    harm (normally 0), the expected loss is the oversight cost plus that, and full
    deterrence costs what was paid.
    """
    harms = [a.harm for a in spec.actions]
    if not any(harms):
        return None
    harm = float(harms[[a.name for a in spec.actions].index(compliant)])
    return StrategyReport(
        objective="deter_all",
        induced_action=compliant,
        types=(TypeOutcome(name=BASE_TYPE, weight=1.0, induced_action=compliant, harm=harm),),
        harm_left=harm,
        expected_loss=total_cost + harm,
        full_deterrence_cost=total_cost,
    )
