"""Spec pieces of the strategic features (issue 5): interval gains and cross-field checks.

Kept apart from ``document.py`` so that the spec model only gains a few lines; this module
reads the spec through :class:`~deter.solver.spec.sections.SpecView` and never imports
``document.py``, so there is no import cycle. Interval gains themselves are in ``gains.py``
(re-exported here).

- ``gain = [low, high]``: an interval gain (deterrence must hold for every value in it);
- ``[[types]]``: agent types with weights summing to 1 and gain overrides of known actions;
- ``[auditor]``: a strategic auditor running one declared monitor.
"""

from __future__ import annotations

import math

from .gains import Gain, gain_bounds, gain_value, worst_case_gain
from .sections import SpecView
from .suggest import did_you_mean

__all__ = [
    "WEIGHT_TOLERANCE",
    "Gain",
    "gain_bounds",
    "gain_value",
    "strategy_problems",
    "uses_strategy",
    "worst_case_gain",
]

#: Weights of agent types must sum to 1 within this.
WEIGHT_TOLERANCE = 1e-9

Location = tuple[str | int, ...]


def strategy_problems(spec: SpecView) -> list[tuple[Location, str]]:
    """Cross-field problems of the strategic keys, each with its key path."""
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


def uses_strategy(spec: SpecView) -> bool:
    """True when a spec needs the strategic solver (min_loss, types, fixed costs, an auditor)."""
    return bool(
        spec.oversight.objective == "min_loss"
        or spec.types
        or spec.auditor is not None
        or any(m.fixed_cost > 0 for m in spec.monitors)
    )


def _combination_problems(spec: SpecView) -> list[tuple[Location, str]]:
    """The strategic solver is written for linear detection and penalties at their caps."""
    if not uses_strategy(spec):
        return []
    penalty = spec.penalty
    detection = spec.oversight.detection
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
    if penalty.design != "fixed":
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
    if any(m.roc for m in spec.monitors):
        problems.append((where, f"{feature} cannot be combined with ROC monitors"))
    return problems
