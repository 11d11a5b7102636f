"""Issue 25, item 10: a report's cost is bounded in solves of its spec, and its figures draw
a bounded number of series (a legend entry per action took minutes at 10,000 actions)."""

from __future__ import annotations

import math

import pytest
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


def test_the_frontier_takes_the_specs_own_solve_for_factor_one() -> None:
    from deter.solver.analysis.frontier import default_factors, run_frontier
    from deter.solver.engine.solve import solve

    spec = _spec(3)
    own = solve(spec)
    solved: list[object] = []

    def counting(point):  # type: ignore[no-untyped-def]
        solved.append(point)
        return solve(point)

    factors = default_factors(FEWEST_POINTS)
    frontier = run_frontier(spec, factors, solve=counting, solved=own)
    assert len(solved) == len(factors) - 1  # factor 1 is the spec's own result
    (one,) = [p for p in frontier.points if p.factor == 1.0]
    assert one.total_cost == own.total_cost
    fresh = run_frontier(spec, factors, solve=solve)
    assert [p.total_cost for p in fresh.points] == [p.total_cost for p in frontier.points]


def test_action_look_ups_by_name_are_right_and_leave_equality_alone() -> None:
    from deter.solver.engine.solve import solve

    spec, again = _spec(50), _spec(50)
    for k in (0, 17, 49):
        assert spec.action(f"a{k}").name == f"a{k}"
        assert spec.actions[spec.action_index(f"a{k}")].name == f"a{k}"
    assert spec == again  # the index is kept beside the spec, not in it
    copy = spec.model_copy(update={"actions": spec.actions[::-1]})
    assert copy.action_index("comply") == len(spec.actions) - 1  # its own index, not spec's
    with pytest.raises(KeyError):
        spec.action("nope")
    result = solve(spec)
    assert all(result.action(a.name) is a for a in result.actions)
