"""For a spec that cannot be met: the smallest single changes that make it feasible (from
the engine's diagnosis), each verified by a re-solve, with figures rounded up just enough."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.stable import stable_rows_of
from ..results.errors import SpecError
from ..results.result import Result
from ..spec.document import Spec
from .explanation import Fix
from .sweep import get_value, set_value


@dataclass(frozen=True)
class FixCandidate:
    """A change to try: the spec field, the value it needs, and why."""

    path: str
    needed: float
    why: str


def infeasible_fixes(
    spec: Spec, result: Result, arrays: ProblemArrays, solve: Callable[[Spec], Result]
) -> tuple[Fix, ...]:
    """The single changes the diagnosis suggests, each re-solved alone (``Fix.verified``)."""
    diagnosis = result.diagnosis
    candidates: list[FixCandidate] = []
    if diagnosis is not None:
        for finding in diagnosis.actions:
            if finding.deterrable:
                continue
            action = spec.action(finding.name)
            if finding.cap_needed is not None and finding.max_detection > 0:
                path = (
                    f"actions.{action.name}.penalty_cap"
                    if action.penalty_cap is not None or spec.agent.penalty_cap is None
                    else "agent.penalty_cap"
                )
                candidates.append(
                    FixCandidate(
                        path,
                        _round_up(finding.cap_needed),
                        f"{action.name} is caught at most with probability "
                        f"{finding.max_detection:.4g}; its penalty must reach "
                        f"{finding.cap_needed:.4g} to outweigh its gain",
                    )
                )
                if path == "agent.penalty_cap":
                    candidates.append(
                        FixCandidate(
                            f"actions.{action.name}.penalty_cap",
                            _round_up(finding.cap_needed),
                            f"give {action.name} its own, larger cap",
                        )
                    )
            candidates += _ceiling_fixes(spec, arrays, finding.name)
            gain0 = spec.action(spec.compliant_action).gain
            if finding.max_detection == 0 and isinstance(gain0, int | float):
                candidates.append(
                    FixCandidate(
                        f"actions.{action.name}.gain",
                        float(gain0),
                        f"nothing can detect {action.name}; it is deterred only "
                        "if it pays no more than complying (or add a monitor "
                        "that detects it)",
                    )
                )
        if (
            diagnosis.least_cost is not None
            and diagnosis.budget is not None
            and (diagnosis.least_cost > diagnosis.budget)
        ):
            candidates.append(
                FixCandidate(
                    "oversight.budget",
                    _round_up(diagnosis.least_cost),
                    f"full deterrence costs at least {diagnosis.least_cost:.6g}",
                )
            )
    fixes = []
    for candidate in candidates:
        path, why = candidate.path, candidate.why
        try:
            current = get_value(spec, path)
            needed, fixed = _smallest_verified(spec, path, candidate.needed, solve)
        except SpecError:
            continue
        fixes.append(
            Fix(
                path=path,
                current=current,
                needed=needed,
                why=why,
                verified=fixed.status == "optimal",
                cost_after=fixed.total_cost,
            )
        )
    return tuple(fixes)


#: How far above a computed threshold (relative) a fix is searched for when the threshold
#: itself is not enough: a tie that float64 rounds to the wrong side (e.g. a rate ceiling
#: of 0.6, whose binary64 value is below 3/5), not a second reason.
ABOVE = 1e-9


def _smallest_verified(
    spec: Spec, path: str, needed: float, solve: Callable[[Spec], Result]
) -> tuple[float, Result]:
    """``needed`` and its solve if that verifies; otherwise, for a limit that helps as it
    rises (a cap, a rate ceiling, the budget), the smallest binary64 value in
    (needed, needed (1 + ABOVE)] whose spec verifies (exactly, as every answer), found by
    doubling steps of one ulp and bisection; else ``needed`` and its failed solve."""
    fixed = solve(set_value(spec, path, needed))
    rising = path.endswith((".penalty_cap", ".max_rate", ".budget"))
    if fixed.status == "optimal" or not rising or not (math.isfinite(needed) and needed > 0):
        return needed, fixed
    top = needed * (1 + ABOVE)
    if path.endswith(".max_rate"):
        top = min(top, 1.0)
    if not top > needed:
        return needed, fixed
    best = solve(set_value(spec, path, top))
    if best.status != "optimal":
        return needed, fixed
    low, high, step = needed, top, 1  # low fails, high verifies
    while True:  # doubling steps of one ulp from needed, up to top
        value = _ulps_above(needed, step)
        if value >= high:
            break
        tried = solve(set_value(spec, path, value))
        if tried.status == "optimal":
            high, best = value, tried
            break
        low, step = value, 2 * step
    while _ulps_above(low, 1) < high:  # bisect: low fails, high verifies
        middle = _between(low, high)
        tried = solve(set_value(spec, path, middle))
        if tried.status == "optimal":
            high, best = middle, tried
        else:
            low = middle
    return high, best


def _ulps_above(value: float, count: int) -> float:
    """The binary64 number ``count`` steps above the positive ``value``."""
    bits = struct.unpack("<q", struct.pack("<d", value))[0]
    return float(struct.unpack("<d", struct.pack("<q", bits + count))[0])


def _between(low: float, high: float) -> float:
    """The binary64 number halfway (in steps) between the positive ``low`` < ``high``."""
    a = struct.unpack("<q", struct.pack("<d", low))[0]
    b = struct.unpack("<q", struct.pack("<d", high))[0]
    return float(struct.unpack("<d", struct.pack("<q", (a + b) // 2))[0])


def _ceiling_fixes(spec: Spec, arrays: ProblemArrays, name: str) -> list[FixCandidate]:
    """For a blocked action: the rate ceiling one monitor would need, the others at theirs."""
    i = arrays.action_names.index(name)
    k = int(np.flatnonzero(arrays.deviations == i)[0])
    # The detection that deters, (k_i + d_0 P_0) / d_i, from the overflow-free ratios
    # (stable.py: a risk-seeking agent's k_i and d_i can both be beyond float range).
    need, flag, weight = stable_rows_of(arrays)
    if weight[k] <= 0:
        return []
    q = np.asarray(arrays.detection[i].todense()).ravel()
    x = arrays.max_rate
    false_flags = float(arrays.false_positive @ x)
    needed = float(need[k] + flag[k] * false_flags)
    reached = float(q @ x)
    fixes = []
    for j, monitor in enumerate(spec.monitors):
        if q[j] <= 0 or monitor.max_rate >= 1:
            continue
        ceiling = monitor.max_rate + (needed - reached) / q[j]
        if monitor.max_rate < ceiling <= 1:
            fixes.append(
                FixCandidate(
                    f"monitors.{monitor.name}.max_rate",
                    _round_up(ceiling, 1.0),
                    f"{monitor.name} could catch {name} often enough at this rate",
                )
            )
    return fixes


#: How far above the computed threshold a fix's figure may be rounded (relative): four
#: significant digits when they are that close, more digits otherwise (a least cost of
#: 10.0000000001 is shown as 10.00001, not 10.01).
ROUNDING = 1e-6


def _round_up(value: float, ceiling: float | None = None) -> float:
    """The fewest significant digits (at least four) rounded up that stay within ROUNDING
    (relative) of ``value``, so that the displayed figure is enough and barely more."""
    if value <= 0:
        return 0.0
    if not math.isfinite(value):
        return value
    rounded = value
    for significant in range(4, 18):
        digits = significant - 1 - math.floor(math.log10(value))
        rounded = math.ceil(value * 10**digits * (1 - 1e-12)) / 10**digits
        if rounded <= value * (1 + ROUNDING):
            break
    return min(rounded, ceiling) if ceiling is not None else rounded
