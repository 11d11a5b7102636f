"""The Bernstein learner's outer iteration and certificate (solver/engine/learner.py).

The certificate is re-derived here from the result alone, with the requirement written out
(not the engine's function): at the reported rates every deterred shortcut trails
compliance by at least its Bernstein-or-Hoeffding requirement.
"""

from __future__ import annotations

import math

import deter
import pytest
from deter.solver.engine import learner as engine_learner

from tests.model.test_learning import SPEC

BERNSTEIN = '\n[learner]\nsamples = {n}\nconfidence = {c}\nreward_noise = {s}\nbound = "{b}"\n'


def _requirement(p: float, cap: float, ffp: float, p0: float, noise: float, n: int, c: float):
    log = math.log(1 / (1 - c))
    variance = cap**2 * p * (1 - p) + ffp**2 * p0 * (1 - p0) + 2 * noise**2
    bernstein = math.sqrt(2 * variance * log / n) + (cap * p + ffp * (1 - p0)) * log / (3 * n)
    hoeffding = math.sqrt(2 * log * (cap**2 / 4 + ffp**2 / 4 + 2 * noise**2) / n)
    return min(bernstein, hoeffding)


def _solve(n: int, c: float, s: float, bound: str, spec: str = SPEC) -> deter.Result:
    return deter.loads(spec + BERNSTEIN.format(n=n, c=c, s=s, b=bound)).solve()


def test_the_policy_is_certified_at_its_own_rates_and_cheaper_than_hoeffding() -> None:
    plain = deter.loads(SPEC).solve()
    hoeffding = _solve(2000, 0.95, 0.5, "hoeffding")
    bernstein = _solve(2000, 0.95, 0.5, "bernstein")
    assert bernstein.status == "optimal", bernstein.message
    assert plain.total_cost < bernstein.total_cost < hoeffding.total_cost
    assert any("Bernstein margins certified" in note for note in bernstein.notes)
    honest = next(a for a in bernstein.actions if a.compliant)
    eu0 = -honest.penalty * honest.detection
    for action in bernstein.actions:
        if action.compliant:
            continue
        need = _requirement(
            action.detection, action.penalty, 1.0, honest.detection, 0.5, 2000, 0.95
        )
        lead = eu0 - (action.gain - action.penalty * action.detection)
        assert lead >= need - 1e-7 * max(1.0, need)


def test_without_false_flags_one_solve_is_exact_and_infeasible_is_a_verdict() -> None:
    no_flags = SPEC.replace("false_positive = 0.03\n", "")
    result = _solve(3000, 0.95, 0.0, "bernstein", no_flags)
    assert result.status == "optimal"
    assert any("1 iteration(s)" in note for note in result.notes)
    # with 2 samples no detection rate makes a learner sure of anything: infeasible, proved
    hopeless = _solve(2, 0.999, 0.0, "bernstein", no_flags)
    assert hopeless.status == "infeasible"


def test_with_false_flags_an_infeasible_iterate_is_a_solver_error_with_the_reason() -> None:
    result = _solve(2, 0.999, 0.0, "bernstein")
    assert result.status == "solver_error"
    assert "not convex" in result.message and "hoeffding" in result.message


def test_an_iteration_that_does_not_certify_falls_back_to_hoeffding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One iteration at P_0 = 0 under-states the false flags' shift (the policy's P_0 is
    positive), so it cannot certify; the answer is Hoeffding's design, and says so."""
    monkeypatch.setattr(engine_learner, "MAX_ITERATIONS", 1)
    result = _solve(2000, 0.95, 0.5, "bernstein")
    hoeffding = _solve(2000, 0.95, 0.5, "hoeffding")
    assert result.status == "optimal"
    assert any("Hoeffding's rate-free margins used" in note for note in result.notes)
    assert result.total_cost == pytest.approx(hoeffding.total_cost, rel=1e-9)


def test_under_a_horizon_the_certificate_holds_in_money_at_the_act() -> None:
    """[horizon] gamma 0.98, d 1, rho 0.99: a paid penalty is worth gamma^d F at the act and is
    paid with probability rho^d P; the certificate, written out here with those factors,
    holds at the policy's rates, and the policy costs less than Hoeffding's (discounted
    ranges) at most and more than the plain horizon design."""
    horizon = "\n[horizon]\ndiscount = 0.98\naudit_delay = 1\nretention = 0.99\n"
    gamma_d, rho_d = 0.98, 0.99
    kappa = gamma_d * rho_d
    plain = deter.loads(SPEC + horizon).solve()
    hoeffding = _solve(2000, 0.95, 0.5, "hoeffding", SPEC + horizon)
    bernstein = _solve(2000, 0.95, 0.5, "bernstein", SPEC + horizon)
    assert bernstein.status == "optimal", bernstein.message
    assert plain.total_cost < bernstein.total_cost <= hoeffding.total_cost * (1 + 1e-9)
    assert any("Bernstein margins certified" in note for note in bernstein.notes)
    honest = next(a for a in bernstein.actions if a.compliant)
    eu0 = -kappa * honest.penalty * honest.detection
    for action in bernstein.actions:
        if action.compliant:
            continue
        q, q0 = rho_d * action.detection, rho_d * honest.detection
        cap, ffp = gamma_d * action.penalty, gamma_d * honest.penalty
        log = math.log(1 / 0.05)
        variance = cap**2 * q * (1 - q) + ffp**2 * q0 * (1 - q0) + 2 * 0.5**2
        need = min(
            math.sqrt(2 * variance * log / 2000) + (cap * q + ffp * (1 - q0)) * log / 6000,
            math.sqrt(2 * log * (cap**2 / 4 + ffp**2 / 4 + 2 * 0.5**2) / 2000),
        )
        lead = eu0 - (action.gain - kappa * action.penalty * action.detection)
        assert lead >= need - 1e-7 * max(1.0, need)


def test_with_false_flags_a_relaxation_proves_infeasibility_where_it_can() -> None:
    """Noise sigma = 2 with 2 samples: even the smallest margin over every rate,
    sqrt(4 sigma^2 ln(1/delta) / n) = 7.4 USD, is more than tampering's 10 USD cap can add
    to its 4 USD gain: infeasible, proved by the relaxation, and said so."""
    result = _solve(2, 0.999, 2.0, "bernstein")
    assert result.status == "infeasible", result.message
    assert any("smallest over every rate" in note for note in result.notes)


@pytest.mark.parametrize("seed", range(6))
def test_on_the_vocabularys_learner_specs_bernstein_agrees_with_hoeffding_on_feasibility(
    seed: int,
) -> None:
    """The generator's learner family with bound = "bernstein" (where allowed): every answer
    is optimal or infeasible as Hoeffding's is (a Bernstein margin is never above
    Hoeffding's, and the relaxation proves infeasibility), optimal ones certified at their
    own rates and no dearer than Hoeffding's policy."""
    from deter.solver.engine.verify import TOLERANCE

    from tests.support.vocabulary import generate

    for flag in (False, True):
        case = generate("learner", seed, flag)
        if "[[types]]" in case.text or "design =" in case.text or "[learner]" not in case.text:
            continue
        if 'algorithm = "exp3"' in case.text or 'violation = "average"' in case.text:
            continue  # their own bounds (model/no_regret.py), not sample-mean margins
        text = case.text.replace('bound = "hoeffding"\n', "")
        text = text.replace("[learner]\n", '[learner]\nbound = "bernstein"\n', 1)
        problem = deter.loads(text)
        result = problem.solve()
        hoeffding = deter.loads(case.text).solve()
        assert result.status == hoeffding.status or (
            result.status == "optimal" and hoeffding.status == "infeasible"
        ), (seed, flag, result.message)
        if result.status == "optimal":
            assert engine_learner.shortfalls(problem.spec, result, TOLERANCE) == []
            if hoeffding.status == "optimal":
                assert result.total_cost <= hoeffding.total_cost * (1 + 1e-6) + 1e-9
