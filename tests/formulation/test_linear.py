"""solver/formulation/linear.py: auxiliary LPs as arrays, solved through cvxpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.formulation.linear import solve_linear


def test_a_hand_lp_and_its_marginals() -> None:
    """min x1 + 3 x2 s.t. x1 + x2 >= 5 (written -x1 - x2 <= -5), x2 == 2, 1 <= x1 <= 10:
    optimum 3 + 6 = 9 at (3, 2); raising the first right-hand side (-5 -> -4) saves 1, so
    its marginal is -1 (linprog's sign: d optimum / d b); raising x2's fixed value by 1
    costs 3 - 1 = 2."""
    solution = solve_linear(
        np.array([1.0, 3.0]),
        sp.csr_matrix([[-1.0, -1.0]]),
        [-5.0],
        a_eq=np.array([[0.0, 1.0]]),
        b_eq=[2.0],
        bounds=[(1.0, 10.0), (None, None)],
    )
    assert solution.optimal
    assert solution.x == pytest.approx([3.0, 2.0])
    assert solution.objective == pytest.approx(9.0)
    assert solution.ineq_marginals == pytest.approx([-1.0])
    assert solution.eq_marginals == pytest.approx([2.0])


def test_default_bounds_are_nonnegative_as_in_linprog() -> None:
    solution = solve_linear(np.array([1.0]))
    assert solution.optimal and solution.x == pytest.approx([0.0])


def test_infeasible_and_unbounded_say_so() -> None:
    infeasible = solve_linear(np.array([1.0]), np.array([[1.0]]), [-1.0])
    assert not infeasible.optimal and "infeasible" in infeasible.status
    unbounded = solve_linear(np.array([-1.0]), bounds=[(0.0, None)])
    assert not unbounded.optimal and "unbounded" in unbounded.status


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_number_beyond_float_is_an_invalid_input_not_an_exception(bad: float) -> None:
    solution = solve_linear(np.array([1.0]), np.array([[bad]]), [1.0])
    assert solution.status == "invalid input" and not solution.optimal


def _random_lp(seed: int, n: int = 4, rows: int = 6) -> dict:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rows, n)) * (rng.random((rows, n)) < 0.7)
    x0 = rng.random(n)
    return {
        "c": rng.random(n) + 0.1,
        "a_ub": sp.csr_matrix(a),
        "b_ub": a @ x0 + rng.random(rows),
        "bounds": [(-1.0, 2.0)] * (n - 1) + [(None, 3.0)],
    }


def test_small_lps_share_one_compiled_program_per_shape() -> None:
    """LPs of one shape are solved through one parametric program (compiled once), and
    each answer is scipy's linprog's: the cached program carries no earlier LP's numbers."""
    from deter.solver.formulation import linear
    from scipy.optimize import linprog

    linear._cache.programs = None
    for seed in range(6):
        lp = _random_lp(seed)
        ours = solve_linear(lp["c"], lp["a_ub"], lp["b_ub"], bounds=lp["bounds"])
        theirs = linprog(lp["c"], A_ub=lp["a_ub"], b_ub=lp["b_ub"], bounds=lp["bounds"])
        assert ours.optimal and theirs.status == 0
        assert ours.objective == pytest.approx(theirs.fun, rel=1e-9, abs=1e-9)
        assert ours.ineq_marginals == pytest.approx(theirs.ineqlin.marginals, abs=1e-8)
    assert len(linear._cache.programs) == 1


def test_an_answer_does_not_depend_on_the_lps_solved_before() -> None:
    """The same LP gives bit-identical answers first, after other LPs of its shape, and
    after its shape's program was dropped from the cache (byte-identical batch output
    whatever the order and the --jobs)."""
    from deter.solver.formulation import linear

    lp = _random_lp(11)
    linear._cache.programs = None
    first = solve_linear(lp["c"], lp["a_ub"], lp["b_ub"], bounds=lp["bounds"])
    for seed in range(3):
        other = _random_lp(seed)
        solve_linear(other["c"], other["a_ub"], other["b_ub"], bounds=other["bounds"])
    again = solve_linear(lp["c"], lp["a_ub"], lp["b_ub"], bounds=lp["bounds"])
    linear._cache.programs = None
    fresh = solve_linear(lp["c"], lp["a_ub"], lp["b_ub"], bounds=lp["bounds"])
    for solution in (again, fresh):
        assert solution.x is not None and first.x is not None
        assert solution.x.tobytes() == first.x.tobytes()
        assert solution.ineq_marginals.tobytes() == first.ineq_marginals.tobytes()


def test_large_lps_are_compiled_as_they_come() -> None:
    from deter.solver.formulation import linear

    linear._cache.programs = None
    n = 80
    rows = linear.PARAMETRIC_ENTRIES // n + 1
    lp = _random_lp(3, n=n, rows=rows)
    solution = solve_linear(lp["c"], lp["a_ub"], lp["b_ub"], bounds=lp["bounds"])
    assert solution.optimal
    assert not linear._cache.programs
