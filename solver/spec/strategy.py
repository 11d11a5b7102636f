"""Spec pieces of the strategic features (issue 5): interval gains and cross-field checks.

Kept apart from ``spec.py`` so that the spec model only gains a few lines; this module does
not import ``spec.py`` (it receives the spec object), so there is no import cycle.

- ``gain = [low, high]``: an interval gain (deterrence must hold for every value in it);
- ``[[types]]``: agent types with weights summing to 1 and gain overrides of known actions;
- ``[auditor]``: a strategic auditor running one declared monitor.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

#: Weights of agent types must sum to 1 within this.
WEIGHT_TOLERANCE = 1e-9

Location = tuple[str | int, ...]


def _is_finite_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def gain_value(value: Any) -> Any:
    """Accept a finite number, or an interval [low, high] of finite numbers with low <= high."""
    if _is_finite_number(value):
        return float(value)
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_is_finite_number(v) for v in value)
    ):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"the interval [{low:g}, {high:g}] has its low end above its high end")
        return (low, high)
    raise ValueError(
        f"must be a finite number or an interval [low, high] of two finite numbers, not {value!r}"
    )


#: A gain: a number, or an interval (low, high).
Gain = Annotated[float | tuple[float, float], BeforeValidator(gain_value)]


def gain_bounds(gain: float | tuple[float, float]) -> tuple[float, float]:
    """(low, high) of a gain; a number is the interval [g, g]."""
    if isinstance(gain, tuple):
        return gain
    return (float(gain), float(gain))


def worst_case_gain(gain: float | tuple[float, float], compliant: bool) -> float:
    """The gain at which deterrence binds: the high end for a deviation, the low end for compliance.

    The agent's expected utility of an action, (1 - P) u(g) + P u(g - F), increases with g for
    any CARA coefficient (its derivative is (1 - P) u'(g) + P u'(g - F) > 0), so "deterred for
    every g_i in [lo_i, hi_i] and g_0 in [lo_0, hi_0]" is exactly "deterred at hi_i and lo_0".
    """
    low, high = gain_bounds(gain)
    return low if compliant else high


def strategy_problems(spec: Any) -> list[tuple[Location, str]]:
    """Cross-field problems of the strategic keys, each with its key path."""
    from .document import did_you_mean  # lazy: spec.py imports this module

    problems: list[tuple[Location, str]] = []
    names = [a.name for a in spec.actions]
    types = spec.types
    if types:
        seen: set[str] = set()
        for k, agent_type in enumerate(types):
            if agent_type.name in seen:
                problems.append((("types", k, "name"), f"duplicate type name {agent_type.name!r}"))
            seen.add(agent_type.name)
            for action in agent_type.gains:
                if action not in names:
                    problems.append(
                        (
                            ("types", k, "gains", action),
                            f"unknown action {action!r}" + did_you_mean(action, names),
                        )
                    )
        total = math.fsum(t.weight for t in types)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            problems.append(
                (("types", 0, "weight"), f"type weights must sum to 1; they sum to {total:.12g}")
            )
    problems += _combination_problems(spec)
    auditor = spec.auditor
    if auditor is not None:
        monitors = [m.name for m in spec.monitors]
        if auditor.monitor not in monitors:
            known = ", ".join(repr(m) for m in monitors) or "none declared"
            problems.append(
                (
                    ("auditor", "monitor"),
                    f"unknown monitor {auditor.monitor!r}"
                    + did_you_mean(auditor.monitor, monitors)
                    + f"; the auditor runs one of the declared [[monitors]] ({known})",
                )
            )
        if types:
            problems.append(
                (
                    ("auditor",),
                    "an [auditor] game is solved for one agent; remove [[types]] or [auditor]",
                )
            )
        if auditor.target_offence_rate is not None and auditor.target_offence_rate >= 1:
            problems.append(
                (
                    ("auditor", "target_offence_rate"),
                    "the target offence rate must be below 1 (1 means no target)",
                )
            )
    return problems


def uses_strategy(spec: Any) -> bool:
    """True when a spec needs the strategic solver (min_loss, types, fixed costs, an auditor)."""
    return bool(
        spec.oversight.objective == "min_loss"
        or spec.types
        or spec.auditor is not None
        or any(m.fixed_cost > 0 for m in spec.monitors)
    )


def _combination_problems(spec: Any) -> list[tuple[Location, str]]:
    """The strategic solver is written for linear detection and penalties at their caps."""
    if not uses_strategy(spec):
        return []
    penalty = getattr(spec, "penalty", None)
    detection = getattr(spec.oversight, "detection", "linear")
    problems: list[tuple[Location, str]] = []
    where: Location = (
        ("oversight", "objective")
        if spec.oversight.objective == "min_loss"
        else ("types",)
        if spec.types
        else ("auditor",)
        if spec.auditor is not None
        else ("monitors",)
    )
    feature = "min_loss, [[types]], fixed_cost and [auditor]"
    if penalty is not None and penalty.design != "fixed":
        problems.append(
            (
                where,
                f"{feature} need penalties fixed at their caps; "
                "remove [penalty] design or these keys",
            )
        )
    if detection != "linear":
        problems.append(
            (where, f"{feature} need linear detection; remove oversight.detection or these keys")
        )
    if any(getattr(m, "roc", None) for m in spec.monitors):
        problems.append((where, f"{feature} cannot be combined with ROC monitors"))
    return problems
