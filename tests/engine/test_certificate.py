"""The duality certificate and the retry chain (issue 7).

The certificate is computed by deter from the dual values of every compiled constraint;
these tests check that it passes on true optima, that it fails on answers that are
feasible but not optimal or whose duals are wrong, and that a failing attempt moves on to
the next solver and finally to ``solver_error`` with the measured violation.
"""

from __future__ import annotations

import json
from pathlib import Path

import cvxpy as cp
import deter
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.engine.attempts import attempt_plan
from deter.solver.engine.certificate import duality_certificate
from deter.solver.formulation.components.deterrence import IncentiveHandles
from deter.solver.formulation.program import program_for
from deter.solver.formulation.scaling import Rescaling
from deter.solver.model.arrays import ProblemArrays
from scipy.optimize import brentq

from tests.support.hard_specs import HARD_CASES
from tests.support.paths import ROOT

PROBLEMS = ROOT / "problems"
CODING = PROBLEMS / "coding_agent.toml"


def test_lp_certificate_by_hand() -> None:
    """min x1 + 3 x2 s.t. x >= (1, 2), x1 + x2 = 5, x <= 10: optimum 9 at (3, 2)."""
    x = cp.Variable(2)
    problem = cp.Problem(
        cp.Minimize(np.array([1.0, 3.0]) @ x),
        [x >= np.array([1.0, 2.0]), x[0] + x[1] == 5, x <= 10],
    )
    problem.solve(solver="HIGHS")
    certificate = duality_certificate(problem)
    assert certificate.applies and certificate.passed
    assert certificate.dual_objective == pytest.approx(9.0, rel=1e-9)
    assert certificate.primal_objective == pytest.approx(9.0, rel=1e-9)


def test_a_feasible_but_suboptimal_point_fails_the_gap() -> None:
    x = cp.Variable(2)
    problem = cp.Problem(
        cp.Minimize(np.array([1.0, 3.0]) @ x),
        [x >= np.array([1.0, 2.0]), x[0] + x[1] == 5, x <= 10],
    )
    problem.solve(solver="HIGHS")
    x.value = np.array([1.0, 4.0])  # feasible, cost 13 against the optimum 9
    certificate = duality_certificate(problem)
    assert not certificate.passed
    assert certificate.gap == pytest.approx(4.0, rel=1e-9)


def _solved_coding_program() -> tuple[cp.Problem, cp.Constraint]:
    arrays = ProblemArrays.from_spec(deter.load_spec(CODING))
    program = program_for(arrays)
    program.solve("HIGHS")
    handles = program.find(IncentiveHandles)
    assert handles is not None
    return program.problem, handles.incentive


def test_multipliers_too_small_prove_too_little() -> None:
    """Halved incentive multipliers are valid (any lambda >= 0 is) but prove only a bound
    far below the cost: the gap fails."""
    problem, incentive = _solved_coding_program()
    incentive.save_dual_value(np.asarray(incentive.dual_value) * 0.5)
    certificate = duality_certificate(problem)
    assert not certificate.passed
    assert certificate.relative_gap is not None and certificate.relative_gap > 0.1


def test_multipliers_too_large_are_shrunk_back_to_a_proof() -> None:
    """Multipliers 1.5 times too large turn the reduced costs the wrong way; the repair
    shrinks them until the bound is proven again (each round's bound is valid)."""
    problem, incentive = _solved_coding_program()
    incentive.save_dual_value(np.asarray(incentive.dual_value) * 1.5)
    certificate = duality_certificate(problem)
    assert certificate.passed, certificate.reason
    assert certificate.dual_objective == pytest.approx(certificate.primal_objective, rel=1e-9)


def test_bound_rows_need_no_multipliers() -> None:
    """Rows on one variable are bounds: their multipliers from the solver are not used, so
    garbage there changes nothing (the hand LP of the first test)."""
    x = cp.Variable(2)
    lower = x >= np.array([1.0, 2.0])
    upper = x <= 10
    problem = cp.Problem(cp.Minimize(np.array([1.0, 3.0]) @ x), [lower, x[0] + x[1] == 5, upper])
    problem.solve(solver="HIGHS")
    lower.save_dual_value(np.array([123.0, -7.0]))
    upper.save_dual_value(np.array([-1.0, 55.0]))
    certificate = duality_certificate(problem)
    assert certificate.passed, certificate.reason
    assert certificate.dual_objective == pytest.approx(9.0, rel=1e-12)


def test_a_multiplier_of_noise_in_a_row_of_tiny_units_is_repaired() -> None:
    """Issue 12: a deviation needing detection 9e-192 (CARA, huge cap) next to an ordinary
    one. HiGHS meets the tiny row only in the rescaled program, whose multiplier for it is
    noise at the scale of the cost; the certificate must still prove the optimum."""
    text = (ROOT / "tests" / "engine" / "data" / "tiny_need_next_to_ordinary.toml").read_text()
    result = deter.solve(deter.loads(text))
    assert result.status == "optimal", result.message
    duality = result.verification.duality
    assert duality is not None and duality.passed and duality.kind == "lp_duality"
    assert result.monitor("audit:pay1").rate > 0  # the tiny need is met, not rounded to 0
    assert result.total_cost == pytest.approx(4.880626e-05, rel=1e-6)


@pytest.mark.parametrize("path", sorted(PROBLEMS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_optimal_answer_carries_a_passing_certificate(path: Path) -> None:
    result = deter.solve(deter.load_spec(path))
    assert result.status == "optimal"
    assert result.verification is not None and result.verification.passed
    duality = result.verification.duality
    assert duality is not None and duality.passed
    assert duality.kind in (
        "lp_duality",
        "fixed_integer_lp",
        "penalty_duality",
        "conic_residuals",
        "branch_and_bound",
    )
    if duality.applies:  # the dual bound meets what the program minimised
        # (the cost; with harms, a commitment program minimises cost plus harm left)
        minimised = [result.total_cost]
        if result.strategy is not None:
            minimised.append(result.strategy.expected_loss)
        assert any(
            duality.dual_objective == pytest.approx(value, rel=1e-6, abs=1e-12)
            for value in minimised
        )


def test_json_reports_feasibility_and_duality(runner) -> None:
    out = runner.invoke(app, ["solve", str(CODING), "-f", "json", "--no-timing"])
    assert out.exit_code == 0, out.stderr
    verification = json.loads(out.stdout)["verification"]
    assert verification["passed"] is True
    assert {c["name"] for c in verification["checks"]} >= {"incentive", "min_rate", "max_rate"}
    duality = verification["duality"]
    assert duality["applies"] is True and duality["passed"] is True
    assert duality["relative_gap"] <= duality["tolerance"]
    assert duality["relative_dual_residual"] <= duality["tolerance"]


def test_retry_plan_goes_from_each_solver_to_the_rescaled_tight_retry() -> None:
    plan = attempt_plan(("HIGHS", "CLARABEL"))
    assert [a.label for a in plan] == [
        "HIGHS",
        "CLARABEL",
        "HIGHS (rescaled, tight)",
        "CLARABEL (rescaled, tight)",
        "HIGHS (refined)",
    ]
    assert all(a.options for a in plan[2:4])


def test_a_hard_spec_that_fails_plain_highs_is_saved_by_the_rescaled_retry() -> None:
    """Gain 1e-10, detection 1e-9: plain HiGHS returns rate 0 'within tolerance'."""
    case = HARD_CASES[3]
    result = deter.solve(deter.load_spec(case.toml()), solvers=("HIGHS",))
    assert result.status == "optimal"
    assert result.solver == "HIGHS (rescaled, tight)"
    assert any("failed" in a for a in result.attempts[:-1])
    assert result.monitor("monitor").rate == pytest.approx(case.rate(), rel=1e-6)


def test_scaled_program_has_the_same_optimum() -> None:
    arrays = ProblemArrays.from_spec(deter.load_spec(CODING))
    plain = program_for(arrays)
    plain.solve("HIGHS")
    plain_rates = np.asarray(plain.context.rates.value)
    scaled = Rescaling.apply(arrays)
    scaled.solve("HIGHS")
    assert np.asarray(scaled.context.rates.value) == pytest.approx(plain_rates, abs=1e-9)
    # The reduction's inverse gives the model rows' duals back (the same in both programs).
    plain_rows, scaled_rows = plain.find(IncentiveHandles), scaled.find(IncentiveHandles)
    assert plain_rows is not None and scaled_rows is not None
    np.testing.assert_allclose(
        scaled.dual_of(scaled_rows.incentive), plain.dual_of(plain_rows.incentive), rtol=1e-6
    )


def test_no_verified_answer_is_solver_error_with_the_violation() -> None:
    """With a tolerance no solver meets, every attempt is refused and the measure reported."""
    from deter.solver.engine.solve import solve

    result = solve(deter.load_spec(HARD_CASES[3].toml()), tolerance=-1.0)
    assert result.status == "solver_error"
    assert result.total_cost is None
    assert len(result.attempts) == 5  # the four attempts, then the refined one
    assert "violation" in result.message


def test_coefficients_read_by_evaluation_equal_cvxpy_gradients() -> None:
    """The fast path (affine maps evaluated at unit vectors) and the symbolic gradients agree."""
    from deter.solver.engine import certificate

    spec = deter.load_spec(CODING)
    problem = program_for(ProblemArrays.from_spec(spec)).problem
    variables = sorted(problem.variables(), key=lambda v: v.id)
    expressions = [problem.objective.expr, *(c.expr for c in problem.constraints)]
    by_evaluation = certificate.affine_parts(expressions, variables)
    by_gradient = [
        (certificate._gradient_matrix(e, variables, b.size), b)
        for e, (_, b) in zip(expressions, by_evaluation, strict=True)
    ]
    for (a_eval, b_eval), (a_grad, b_grad) in zip(by_evaluation, by_gradient, strict=True):
        np.testing.assert_allclose(a_eval.toarray(), a_grad.toarray(), atol=1e-12)
        np.testing.assert_array_equal(b_eval, b_grad)
    assert any(a.nnz for a, _ in by_evaluation)


def test_cone_programs_start_with_tight_clarabel_and_skip_highs() -> None:
    from deter.solver.engine.attempts import CONIC_OPTIONS

    plan = attempt_plan(("HIGHS", "CLARABEL"), linear=False)
    assert [a.label for a in plan] == ["CLARABEL", "CLARABEL (rescaled, tight)"]
    assert plan[0].options == CONIC_OPTIONS
    assert [a.label for a in attempt_plan(("HIGHS",), linear=False)] == [
        "CLARABEL",
        "CLARABEL (rescaled, tight)",
    ]


@pytest.mark.parametrize(
    ("gain", "cap", "q", "cost"),
    [(1e-6, 1e3, 0.5, 1e6), (1e-8, 1e-2, 0.9, 1e-6), (1e-6, 1.0, 0.5, 1.0), (1e-9, 1.0, 0.5, 1.0)],
)  # were solver_error
def test_exponential_detection_is_accurate_where_default_clarabel_is_not(
    gain: float, cap: float, q: float, cost: float
) -> None:
    """At Clarabel's defaults these specs came back 'optimal' with rates 29% and 0.3% too high
    as cone programs; without a false-flag term they are now linear programs (threshold rows,
    features/exponential.py), solved by HiGHS and certified by their duals."""
    spec = f"""
[agent]
penalty_cap = {cap!r}
[oversight]
detection = "exponential"
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "cheat"
gain = {gain!r}
[[monitors]]
name = "m"
cost = {cost!r}
detects = {{ cheat = {q!r} }}
"""
    result = deter.solve(deter.load_spec(spec))
    assert result.status == "optimal"
    assert result.verification is not None and result.verification.duality.applies
    assert result.verification.duality.passed and (result.solver or "").startswith("HIGHS")
    least_rate = np.log1p(-gain / cap) / np.log1p(-q)  # docs/model.md, one exponential monitor
    assert result.monitor("m").rate == pytest.approx(least_rate, rel=1e-6)


def test_exponential_detection_with_false_flags_stays_a_tight_cone_program() -> None:
    """A false-flag term keeps the exponential cone (no fixed threshold): Clarabel, tight, in
    the branch-and-bound on P_0 (engine/flag_search.py), whose certificate is its gap."""
    spec = """
[agent]
penalty_cap = 10.0
false_positive_penalty = 1.0
[oversight]
detection = "exponential"
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[monitors]]
name = "m"
cost = 1.0
detects = { cheat = 0.5 }
false_positive = 0.05
"""
    result = deter.solve(deter.load_spec(spec))
    assert result.status == "optimal" and (result.solver or "").startswith("CLARABEL")
    assert result.verification is not None and result.verification.duality is not None
    duality = result.verification.duality
    assert duality.applies and duality.passed and duality.kind == "branch_and_bound"
    assert duality.dual_objective is not None and duality.relative_gap is not None
    assert duality.dual_objective <= result.total_cost and duality.relative_gap <= 1e-6
    # 10 (1 - 0.5^x) - (1 - 0.95^x) = 2: the exact least rate
    least = brentq(lambda x: 10 * (1 - 0.5**x) - (1 - 0.95**x) - 2, 0.0, 1.0, xtol=1e-15)
    assert result.total_cost == pytest.approx(least, rel=1e-6)
    assert result.action("cheat").deterred


def test_fixed_integer_certificate_judges_the_policy_reported() -> None:
    """A repaired policy is certified at its own cost: one dearer than the fixed LP's optimum
    fails (fixed_cost-200048 was reported 3.27e-6 above its least cost while the certificate
    passed on the solver's cheaper point)."""
    from deter.solver.engine.certificate import certify

    x, z = cp.Variable(nonneg=True), cp.Variable(boolean=True)
    problem = cp.Problem(cp.Minimize(2 * x + z), [x >= 0.5, x <= z])
    problem.solve(solver=cp.HIGHS)
    assert certify(problem, None).passed
    assert certify(problem, None, reported=2.0).passed
    dearer = certify(problem, None, reported=2.0 * (1 + 1e-5))
    assert not dearer.passed and "relative difference" in dearer.reason
