"""Sweep axes for tests and ``bench/bench_sweep.py``."""

from __future__ import annotations

from deter.solver.analysis.sweep import get_value
from deter.solver.spec.document import Spec


def tempting_axis(spec: Spec, points: int) -> str | None:
    """The gain of the spec's most tempting action from a quarter to 4 times it (else the
    first declared monitor's cost), as a ``--vary`` text; None when neither is a plain
    number."""
    gains = []
    for action in spec.actions:
        if action.name == spec.compliant_action:
            continue
        try:
            value = get_value(spec, f"actions.{action.name}.gain")
        except Exception:  # an interval gain is no single number
            value = None
        if value is not None and value > 0:
            gains.append((value, f"actions.{action.name}.gain"))
    if gains:
        value, path = max(gains)
    else:
        costs = [(get_value(spec, f"monitors.{m.name}.cost"), m.name) for m in spec.monitors]
        costs = [(v, f"monitors.{name}.cost") for v, name in costs if v]
        if not costs:
            return None
        value, path = costs[0]
    return f"{path}={value / 4:.6g}:{value * 4:.6g}:{points}"
