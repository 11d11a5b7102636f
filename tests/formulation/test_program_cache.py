"""The cache of compiled programs stays bounded, by count and by bytes, and keeps no
solver instance (issue 24: workers grew by ~15 MB over 24,000 specs while it filled)."""

from __future__ import annotations

from collections.abc import Iterator

import cvxpy as cp
import deter
import pytest
from deter.solver.formulation import program
from deter.solver.formulation.program import cached_programs, program_for
from deter.solver.model.arrays import ProblemArrays

from tests.support.reference import spec_text


def shaped(n_actions: int, n_monitors: int) -> ProblemArrays:
    """A feasible spec of ``n_actions`` actions (one compliant) and ``n_monitors`` monitors:
    each (actions, monitors) pair is its own cache key."""
    actions = [{"name": "ok", "gain": 0.0}] + [
        {"name": f"a{i}", "gain": 1.0 + 0.1 * i, "penalty_cap": 10.0} for i in range(1, n_actions)
    ]
    monitors = [
        {"name": f"m{j}", "cost": 1.0 + j, "detects": {f"a{i}": 0.5 for i in range(1, n_actions)}}
        for j in range(n_monitors)
    ]
    return ProblemArrays.from_spec(deter.load_spec(spec_text(actions, monitors)))


@pytest.fixture
def empty_cache() -> Iterator[None]:
    program._cache.clear()
    yield
    program._cache.clear()


def test_the_cache_holds_at_most_its_count_of_programs(empty_cache: None) -> None:
    shapes = [(n, m) for n in range(2, 10) for m in range(1, 6)]  # 40 shapes
    assert len(shapes) > program.CACHE_PROGRAMS
    for n, m in shapes:
        program_for(shaped(n, m))
        count, held = cached_programs()
        assert count <= program.CACHE_PROGRAMS
        assert held <= program.CACHE_BYTES
    assert cached_programs()[0] == program.CACHE_PROGRAMS
    # least recently used out: the first shape is compiled again, the last is reused
    last = program_for(shaped(9, 5))
    assert program_for(shaped(9, 5)) is last
    assert (len(shaped(2, 1).deviations), 1) not in {key[:2] for key in program._cache}


def test_the_cache_holds_at_most_its_bytes(
    empty_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large programs leave by bytes long before the count binds; one larger than the whole
    budget is solved but not kept."""
    sizes = {}
    for n in range(20, 26):
        sizes[n] = program_for(shaped(n, 8)).estimated_bytes
    program._cache.clear()
    budget = 3 * max(sizes.values())
    monkeypatch.setattr(program, "CACHE_BYTES", budget)
    for n in sizes:
        program_for(shaped(n, 8))
        count, held = cached_programs()
        assert held <= budget and count <= 3
    assert cached_programs()[0] == 3
    monkeypatch.setattr(program, "CACHE_BYTES", min(sizes.values()) - 1)
    alone = program_for(shaped(30, 8))
    assert alone.solve("HIGHS").status == "optimal"
    assert cached_programs() == (0, 0)


def test_the_estimate_grows_with_the_parameters() -> None:
    small = program.compile_program(shaped(3, 2), _components(shaped(3, 2)), parametric=True)
    large = program.compile_program(shaped(40, 10), _components(shaped(40, 10)), parametric=True)
    assert program.PROGRAM_BASE_BYTES < small.estimated_bytes < large.estimated_bytes
    entries = sum(p.size for p in large.problem.parameters())
    assert large.estimated_bytes == (
        program.PROGRAM_BASE_BYTES + program.PROGRAM_BYTES_PER_ENTRY * entries
    )


def test_a_solved_program_keeps_no_solver_instance(empty_cache: None) -> None:
    """cvxpy keeps the solver's instance (HiGHS: the LP in native memory), data and result
    on the problem for warm starts, which deter never makes: every cached program held one."""
    compiled = program_for(shaped(4, 3))
    for solver in ("HIGHS", "CLARABEL"):
        assert compiled.solve(solver).status == "optimal"
        assert compiled.problem._solver_cache == {}
    # a solve that fails still leaves nothing behind
    compiled.problem._solver_cache["HIGHS"] = ("stale",)
    with pytest.raises(cp.error.SolverError):
        program.solve_problem(compiled.problem, "NO_SUCH_SOLVER")
    assert compiled.problem._solver_cache == {}


def _components(arrays: ProblemArrays) -> list:  # type: ignore[type-arg]
    from deter.solver.formulation.components import components_for

    return components_for(arrays)
