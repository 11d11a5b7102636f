"""Spec text for the penalty-design and detection-model tests (issue 4).

One line per key, like ``reference.spec_text``, plus the ``[penalty]`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import deter
from deter.solver.results.result import Result

from tests.support.reference import spec_text


def design_spec(
    actions: Sequence[Mapping[str, Any]],
    monitors: Sequence[Mapping[str, Any]] = (),
    *,
    agent: Mapping[str, Any] | None = None,
    oversight: Mapping[str, Any] | None = None,
    penalty: Mapping[str, Any] | None = None,
) -> str:
    return spec_text(actions, monitors, agent=agent, oversight=oversight, penalty=penalty)


def solve_text(text: str) -> Result:
    return deter.solve(deter.load_spec(text))


def penalty_level(result: Result) -> float:
    """The penalty level the principal pays for: the shared level or the sum of penalties."""
    if result.shared_penalty is not None:
        return result.shared_penalty
    return sum(a.penalty for a in result.actions if not a.compliant)
