"""The probability-severity frontier (Becker 1968, section III).

Deterrence needs an expected penalty P_i F_i of at least the gain from deviating, so the
principal can trade the probability of detection P (costly monitoring) against the
severity F (the penalty cap). For a range of factors s, every penalty cap is scaled to
s * F_i and the least oversight cost, the monitor rates and the detection it buys are
recorded. With one action and one monitor of detection q and cost c, risk neutral and
without false positives, the frontier is exactly cost(s) = c * g / (q * s * F):
oversight cost is inversely proportional to the penalty.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results.errors import SpecError, SpecIssue
from ..results.serialise import dumps, envelope, jsonable
from ..spec.document import Spec
from ..spec.loading import validate_spec_data
from .sweep import spec_data

if TYPE_CHECKING:
    from ..results.result import Result

CAP_KEY = "penalty_cap"


def _scale_caps(node: Any, factor: float) -> int:
    """Multiply every ``penalty_cap`` in the spec data by ``factor``; returns how many."""
    count = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == CAP_KEY and isinstance(value, int | float) and not isinstance(value, bool):
                node[key] = float(value) * factor
                count += 1
            else:
                count += _scale_caps(value, factor)
    elif isinstance(node, list):
        for item in node:
            count += _scale_caps(item, factor)
    return count


def scale_penalty_caps(spec: Spec, factor: float, base: dict[str, Any] | None = None) -> Spec:
    """``spec`` with every penalty cap (the agent's default and each action's own) times
    ``factor``."""
    if not math.isfinite(factor) or factor <= 0:
        raise SpecError([SpecIssue("--factors", "", f"a cap factor must be above 0, not {factor}")])
    data = copy.deepcopy(base if base is not None else spec_data(spec))
    _scale_caps(data, factor)
    new = validate_spec_data(data, file=spec.source_file)
    return new.with_source(spec.source)  # messages after validation still name its lines


@dataclass(frozen=True)
class FrontierPoint:
    factor: float
    status: str
    total_cost: float | None
    caps: dict[str, float]  # the effective cap of each non-compliant action
    detection: dict[str, float]
    rates: dict[str, float]
    result: Result | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Frontier:
    name: str
    currency: str
    points: tuple[FrontierPoint, ...]
    own: FrontierPoint  # the spec as written (factor 1)
    common_cap: float | None  # the one cap every deviation shares, if they share one

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``deter frontier --format json`` (non-finite numbers as null)."""
        return jsonable(
            envelope(
                "frontier",
                {
                    "name": self.name,
                    "currency": self.currency,
                    "common_cap": self.common_cap,
                    "points": self.to_records(),
                },
            )
        )

    def to_json(self) -> str:
        """``to_dict()`` as the JSON text ``deter frontier --format json`` prints."""
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_records(self) -> list[dict[str, Any]]:
        """One plain object per cap factor: status, least cost, caps, detection, rates."""
        return [
            {
                "factor": p.factor,
                "status": p.status,
                "total_cost": p.total_cost,
                "caps": p.caps,
                # no policy at this factor: null, as batch and sweep write it, not {}
                "detection": p.detection if p.status == "optimal" or p.detection else None,
                "rates": p.rates if p.status == "optimal" or p.rates else None,
            }
            for p in self.points
        ]


def default_factors(points: int = 25, low: float = 0.25, high: float = 4.0) -> tuple[float, ...]:
    """Geometrically spaced factors that include 1 (the spec's own caps)."""
    # to 12 significant digits: geomspace's 1.9999999999999998 is the factor 2 a reader asked for
    factors = {float(f"{f:.12g}") for f in np.geomspace(low, high, points).tolist()}
    factors.add(1.0)
    return tuple(sorted(factors))


def run_frontier(
    spec: Spec,
    factors: Sequence[float] | None = None,
    *,
    solve: Callable[[Spec], Result] | None = None,
    solvers: Sequence[str] | None = None,
    solved: Result | None = None,
) -> Frontier:
    """Least oversight cost, and the detection it buys, for each scaling of the caps.

    Without ``solve`` the factors are blocks of one stacked program (``engine/stacked.py``;
    a factor the stack cannot answer is solved alone); ``solve`` solves each alone with it.
    ``solved``, the spec's own result when the caller has it, is the factor 1 point (one
    solve fewer: a report's frontier at 99,999 actions, issue 25).
    """
    factors = tuple(sorted(set(factors if factors is not None else default_factors()) | {1.0}))
    base = spec_data(spec)
    scaled = [scale_penalty_caps(spec, factor, base) for factor in factors]
    if solve is None:
        from ..engine.solve import solve as solve_spec
        from ..engine.stacked import solve_stacked
        from ..formulation.program import SOLVER_ORDER

        chosen = tuple(solvers or SOLVER_ORDER)
        stacked = solve_stacked(scaled, solvers=chosen)
        results = [
            r if r is not None else solve_spec(s, solvers=chosen)
            for r, s in zip(stacked, scaled, strict=True)
        ]
    else:
        results = [
            solved if solved is not None and f == 1.0 else solve(s)
            for f, s in zip(factors, scaled, strict=True)
        ]
    compliant = spec.compliant_action
    deviations = [a for a in spec.actions if a.name != compliant]
    points = []
    for factor, result in zip(factors, results, strict=True):
        points.append(
            FrontierPoint(
                factor=factor,
                status=result.status,
                total_cost=result.total_cost,
                caps={a.name: spec.penalty_cap(a) * factor for a in deviations},
                detection={a.name: a.detection for a in result.actions if not a.compliant},
                rates={m.name: m.rate for m in result.monitors},
                result=result,
            )
        )
    caps = {spec.penalty_cap(a) for a in deviations}
    own = next(p for p in points if p.factor == 1.0)
    return Frontier(
        name=spec.name,
        currency=spec.problem.currency,
        points=tuple(points),
        own=own,
        common_cap=caps.pop() if len(caps) == 1 else None,
    )
