"""Iterative refinement (engine/refine.py): exact residuals, correction LPs, the attempt."""

from __future__ import annotations

from fractions import Fraction

import cvxpy as cp
import deter
import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.engine.attempts import attempt_plan
from deter.solver.engine.certificate import duality_certificate
from deter.solver.engine.refine import linear_rows, refine_solved, residuals
from deter.solver.formulation.program import solve_problem

from tests.support.exact_reference import judge
from tests.support.magnitudes import generate


def exact_slack(problem: cp.Problem) -> list[Fraction]:
    """b - a z of every row ``a z <= b`` (equalities: both signs), in exact arithmetic."""
    variables, _, rows = linear_rows(problem)
    z = [Fraction(float(v)) for v in np.concatenate([np.ravel(v.value) for v in variables])]
    out: list[Fraction] = []
    for part in rows:
        a = sp.csr_matrix(part.a)
        for r in range(a.shape[0]):
            total = Fraction(float(part.b[r]))
            for k in range(a.indptr[r], a.indptr[r + 1]):
                total -= Fraction(float(a.data[k])) * z[a.indices[k]]
            out += [total, -total] if part.equal else [total]
    return out


def multi_scale_lp() -> tuple[cp.Problem, list[cp.Variable]]:
    """Two needs 1e-5 and 1e-40 met by monitors that also serve the other (the shape of
    deter's programs): min c.x with P_i <= Q_i x, P_i >= need_i, 0 <= x <= 1."""
    x = cp.Variable(2, name="x")
    p = cp.Variable(2, name="p")
    q = np.array([[0.5, 0.01], [1e-3, 0.4]])
    need = np.array([1e-5, 1e-40])
    problem = cp.Problem(
        cp.Minimize(np.array([1.0, 0.3]) @ x),
        [x >= 0, x <= 1, p <= q @ x, p <= 1, p >= need],
    )
    return problem, [x, p]


def test_residuals_are_exact_where_float64_rounds_to_the_wrong_sign() -> None:
    # 0.1 * 3 - 0.3 is 5.6e-17 in float64 but exactly 0.1*3 - 0.3 of the binary numbers.
    a = sp.csr_matrix(np.array([[3.0]]))
    b = np.array([0.3])
    exact = Fraction(0.3) - 3 * Fraction(0.1)
    r, terms = residuals(a, b, np.array([0.1]))
    assert r[0] == float(exact)
    assert terms[0] == pytest.approx(0.6)


def test_plain_highs_misses_the_tiny_need_and_refinement_meets_it_exactly() -> None:
    problem, _ = multi_scale_lp()
    assert solve_problem(problem, "HIGHS").status == cp.OPTIMAL
    assert min(exact_slack(problem)) < 0  # "within tolerance": the 1e-40 row is not met
    outcome = refine_solved(problem, "HIGHS")
    assert outcome.status == cp.OPTIMAL and outcome.violation == 0.0
    slack = exact_slack(problem)
    # Every row holds up to round-off of its own terms (64 ulps), the 1e-40 row included.
    assert min(slack) >= -Fraction(1e-40) * Fraction(64 * 2.0**-52)
    certificate = duality_certificate(problem)
    assert certificate.passed, certificate.reason
    # The least cost is that of meeting 1e-5 with monitor 0 (cost 2e-5) plus 1e-40 through
    # monitor 1's 0.4 (7.5e-41), less what monitor 0's 1e-3 gives row 1 for free.
    assert certificate.primal_objective == pytest.approx(2e-5, rel=1e-9)


def test_refinement_keeps_an_accurate_answer() -> None:
    x = cp.Variable(2)
    problem = cp.Problem(cp.Minimize(x[0] + 2 * x[1]), [x >= 0, x <= 1, x[0] + x[1] >= 0.5])
    solve_problem(problem, "HIGHS")
    before = np.asarray(x.value).copy()
    outcome = refine_solved(problem, "HIGHS")
    assert outcome.status == cp.OPTIMAL and outcome.rounds == 1
    np.testing.assert_array_equal(x.value, before)


def test_refinement_declines_a_cone_program() -> None:
    x = cp.Variable(2)
    problem = cp.Problem(cp.Minimize(cp.norm(x, 2)), [x >= 1])
    solve_problem(problem, "CLARABEL")
    assert refine_solved(problem, "CLARABEL").status == "not a linear program"


def test_the_refined_attempt_comes_last_and_only_for_linear_programs() -> None:
    labels = [a.label for a in attempt_plan(("HIGHS", "CLARABEL"))]
    assert labels[-1] == "HIGHS (refined)" and labels.count("HIGHS (refined)") == 1
    assert [a.label for a in attempt_plan(("CLARABEL",))][-1] == "CLARABEL (refined)"
    assert all(not a.refined for a in attempt_plan(("HIGHS", "CLARABEL"), linear=False))
    assert all(not a.refined for a in attempt_plan(("HIGHS",), integer=True))
    assert all(not a.refined for a in attempt_plan(("HIGHS",), rescale=False))


@pytest.mark.parametrize(
    ("family", "seed"),
    [
        ("extreme", 504),  # gains 1 ulp from the compliant gain, needs of 1e-14, false flags
        ("non_paying", 823),  # least cost 3.9e-94 beside actions that never pay
        ("tight_budget", 644),  # least cost 2e-53 under a budget
        ("non_paying", 280),  # a need floored at 2.2e-308 beside needs of 1e-12
        ("non_paying", 409),  # least cost 2e-136: scale factors of 1e135 in one round
    ],
)
def test_specs_no_earlier_attempt_solves_are_solved_by_refinement(family: str, seed: int) -> None:
    """Were solver_error (every earlier attempt failed verification or its certificate);
    now optimal, verified exactly and certified, at the exact reference's cost."""
    text = generate(family, seed).text
    result = deter.solve(deter.loads(text)).to_dict(timing=False)
    assert result["status"] == "optimal", result["attempts"]
    assert result["solver"] == "HIGHS (refined)"
    assert result["verification"]["passed"] and result["verification"]["duality"]["passed"]
    verdict = judge(text, result)
    assert verdict.ok, verdict.failures


def test_a_need_below_the_solvers_tolerance_is_repaired_at_the_first_attempt() -> None:
    """cara_averse 627 needed refinement (issue 20 item 4): a CARA agent whose caught loss
    is 1e16 times its gain needs a detection of about 1e-17, which HiGHS meets with a rate
    of 0 (within its 1e-7 tolerance); the least step repairs it, verified exactly."""
    text = generate("cara_averse", 627).text
    result = deter.solve(deter.loads(text)).to_dict(timing=False)
    assert result["attempts"] == ["HIGHS: optimal, verified and certified"]
    verdict = judge(text, result)
    assert verdict.ok, verdict.failures
