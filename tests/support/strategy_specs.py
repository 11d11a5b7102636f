"""Spec text for the strategic features' tests (harms, types, deployment, auditor).

Builds on ``reference.spec_text`` and appends ``[[types]]`` and ``[auditor]`` tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deter.solver.spec.document import Spec
from deter.solver.spec.loading import parse_spec_text

from tests.support.reference import spec_text, toml_table


def strategic_text(
    actions: Sequence[Mapping[str, Any]],
    monitors: Sequence[Mapping[str, Any]] = (),
    *,
    types: Sequence[Mapping[str, Any]] = (),
    auditor: Mapping[str, Any] | None = None,
    **tables: Any,
) -> str:
    lines = [spec_text(actions, monitors, **tables)]
    for agent_type in types:
        lines += ["[[types]]", *toml_table(agent_type), ""]
    if auditor is not None:
        lines += ["[auditor]", *toml_table(auditor), ""]
    return "\n".join(lines)


def strategic_spec(*args: Any, **kwargs: Any) -> Spec:
    return parse_spec_text(strategic_text(*args, **kwargs), file="test.toml", name="test")


def one_action(
    *,
    gain: Any = 2.0,
    harm: float = 0.0,
    cap: float = 10.0,
    q: float = 0.5,
    cost: float = 1.0,
    objective: str = "deter_all",
    **extra: Any,
) -> Spec:
    """comply (gain 0) and cheat, one monitor: deterring costs c g / (q F)."""
    return strategic_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": gain, "harm": harm}],
        [{"name": "inspector", "cost": cost, "detects": {"cheat": q}}],
        agent={"penalty_cap": cap},
        oversight={"objective": objective},
        **extra,
    )
