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
