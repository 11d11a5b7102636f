"""Spec text for the penalty-design and detection-model tests (issue 4).

One line per key, like ``reference.spec_text``, plus the ``[penalty]`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import deter
from deter.solver.result import Result
from reference import toml_table


def design_spec(
    actions: Sequence[Mapping[str, Any]],
    monitors: Sequence[Mapping[str, Any]] = (),
    *,
    agent: Mapping[str, Any] | None = None,
    oversight: Mapping[str, Any] | None = None,
    penalty: Mapping[str, Any] | None = None,
) -> str:
    lines: list[str] = []
    for header, table in (("agent", agent), ("oversight", oversight), ("penalty", penalty)):
        if table is not None:
            lines += ["", f"[{header}]", *toml_table(table)]
    for action in actions:
        lines += ["", "[[actions]]", *toml_table(action)]
    for monitor in monitors:
        lines += ["", "[[monitors]]", *toml_table(monitor)]
    return "\n".join(lines) + "\n"


def solve_text(text: str) -> Result:
    return deter.solve(deter.load_spec(text))


def penalty_level(result: Result) -> float:
    """The penalty level the principal pays for: the shared level or the sum of penalties."""
    if result.shared_penalty is not None:
        return result.shared_penalty
    return sum(a.penalty for a in result.actions if not a.compliant)
