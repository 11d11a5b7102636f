"""The result of a spec with exponential detection and false flags (``flag_search.py``).

``optimal`` only when the search's gap closed (the cost is the least cost to within
``flag_search.GAP``); ``infeasible`` only with a certificate checked in exact arithmetic
(``infeasibility.py``); otherwise ``solver_error``, with the bounds the search proved.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from ..model.arrays import ProblemArrays
from ..results.result import DualityCertificate, Result
from ..results.status import Status
from ..spec.document import Spec
from . import flag_search
from .core import Answer, optimal_result, proven_infeasible
from .readout import Clock, unsolved

SOLVER = "CLARABEL (branch-and-bound on P_0)"


def solve_false_flags(spec: Spec, tolerance: float) -> Result | None:
    """The result of ``spec`` by the global search, or None when its rows carry no false-flag
    term (the core program is then exact)."""
    clock = Clock()
    arrays = ProblemArrays.for_design(spec)
    if not flag_search.applies(arrays):
        return None
    clock.add("build", clock.since_start())
    began = time.perf_counter()
    found = flag_search.search(arrays, tolerance)
    clock.add("solve", time.perf_counter() - began)
    line = found.describe()
    if found.best is not None and found.closed:
        best = found.best
        penalties = np.asarray(arrays.penalty_cap, dtype=float).copy()
        penalties[arrays.compliant] = arrays.false_positive_penalty
        prices = flag_search.certified_prices(arrays, best)
        shadow = prices.shadow
        if shadow is None:  # null in JSON, with the reason as a note: never an unchecked price
            shadow = {arrays.action_names[i]: math.nan for i in arrays.deviations}
        answer = Answer(
            None,
            best.rates,
            penalties,
            replace(best.verification, duality=_bound_certificate(found)),
            shadow=shadow,
        )
        attempts = (
            f"{line}: verified; least cost to a relative gap of {flag_search.GAP:g}",
            prices.reason if prices.shadow is not None else f"no shadow prices: {prices.reason}",
        )
        result = optimal_result(spec, arrays, answer, SOLVER, attempts, clock)
        if prices.shadow is not None:
            if prices.duals is None:  # explain then prices no constraint, and says why
                return replace(
                    result, notes=(*result.notes, f"no constraint prices: {prices.duals_reason}")
                )
            return replace(result, duals=prices.duals)
        notes = [note for note in result.notes if not note.startswith("shadow price of")]
        notes.append(f"shadow prices: null, not certified ({prices.reason})")
        return replace(result, notes=tuple(notes))
    if found.best is None:
        proven = proven_infeasible(spec, arrays, "certificate of infeasibility", clock)
        if proven is not None:
            return proven
        reason = (
            "no policy verified and no certificate of infeasibility holds "
            f"({line}; {found.failures} boxes unanswered)"
        )
        return unsolved(spec, Status.solver_error, reason, (line,), clock)
    reason = (
        f"a verified policy costs {found.best.cost:.10g}, but the least cost is only proven to "
        f"be at least {found.lower_bound:.10g} (the search's limits ended it: {found.nodes} "
        "boxes); not reported as least cost"
    )
    return unsolved(spec, Status.solver_error, reason, (line,), clock)


def _bound_certificate(found: flag_search.Search) -> DualityCertificate:
    """The search's proof as the answer's certificate (kind ``branch_and_bound``): the
    verified policy's cost against the least lower bound of the boxes' relaxations."""
    assert found.best is not None
    cost, bound = found.best.cost, found.lower_bound
    gap = max(0.0, cost - bound)
    return DualityCertificate(
        applies=True,
        passed=found.closed,
        tolerance=flag_search.GAP,
        primal_objective=cost,
        dual_objective=bound,
        gap=gap,
        relative_gap=gap / abs(cost) if cost else 0.0,
        reason=f"{found.describe()} (secant relaxations, tangent restrictions)",
        kind="branch_and_bound",
    )
