"""Issue 25, item 10: a report's cost is bounded in solves of its spec, and its figures draw
a bounded number of series (a legend entry per action took minutes at 10,000 actions)."""

from __future__ import annotations

import math

from deter.solver.report.figures import MAX_SERIES, _largest
from deter.solver.report.html import FEWEST_POINTS, REPORT_POINTS, REPORT_WORK, report_points
from deter.solver.spec.loading import load_spec


def _spec(n_actions: int):  # type: ignore[no-untyped-def]
    actions = "".join(
        f'\n[[actions]]\nname = "a{k}"\ngain = {1 + k / n_actions}\n' for k in range(n_actions)
    )
    detects = ", ".join(f"a{k} = 0.5" for k in range(n_actions))
    text = f"""[agent]
penalty_cap = 10.0

[[actions]]
name = "comply"
gain = 0.0
{actions}
[[monitors]]
name = "m"
cost = 1.0
detects = {{ {detects} }}
"""
    return load_spec(text)


def test_the_default_frontier_and_sweep_thin_out_as_the_spec_grows() -> None:
    assert report_points(_spec(10)) == REPORT_POINTS
    large = _spec(20_000)
    assert report_points(large) == max(FEWEST_POINTS, REPORT_WORK // len(large.actions))
    assert report_points(large) * len(large.actions) <= max(
        REPORT_WORK, FEWEST_POINTS * len(large.actions)
    )


def test_only_the_largest_series_are_drawn_one_by_one() -> None:
    series = {f"s{k}": [float(k), math.nan] for k in range(100)}
    kept, rest = _largest(series)
    assert len(kept) == MAX_SERIES and len(rest) == 100 - MAX_SERIES
    assert set(kept) == {f"s{k}" for k in range(100 - MAX_SERIES, 100)}
    assert list(kept) == sorted(kept, key=lambda name: int(name[1:]))  # their own order
    few = {"a": [1.0], "b": [2.0]}
    assert _largest(few) == (few, {})
