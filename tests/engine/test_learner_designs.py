"""Bernstein margins with [[types]] and with a [penalty] design (engine/learner.py).

Types: each type's margins come from its own gap over compliance (the closed form is the
untyped margin of a spec with the type's gains), and the certificate holds per type.
Penalty designs: the requirement depends on the chosen penalties, so the outer iteration
raises the short margins and certifies the final policy at its own rates and penalties;
written out here from docs/model.md, and by Monte Carlo at the policy.
"""

from __future__ import annotations

import math

import deter
import numpy as np
import pytest
from deter.solver.engine import learner as engine_learner
from deter.solver.engine.verify import TOLERANCE
from deter.solver.model.learning import learner_lift, learner_margins

from tests.model.test_learning import SPEC, _violation

LEARNER = '\n[learner]\nsamples = {n}\nconfidence = 0.95\nreward_noise = {s}\nbound = "{b}"\n'
TYPES = (
    '\n[[types]]\nname = "a"\nweight = 0.6\n'
    '[[types]]\nname = "b"\nweight = 0.4\ngains = { hack = 1.5, tamper = 2.0 }\n'
)
NO_FLAGS = SPEC.replace("false_positive_penalty = 1.0\n", "")


def _requirement(p: float, cap: float, ffp: float, p0: float, noise: float, n: int) -> float:
    """min(Bernstein, Hoeffding) at detection p (docs/model.md, "Learners"), delta 0.05."""
    log = math.log(20)
    variance = cap**2 * p * (1 - p) + ffp**2 * p0 * (1 - p0) + 2 * noise**2
    bernstein = math.sqrt(2 * variance * log / n) + (cap * p + ffp * (1 - p0)) * log / (3 * n)
    hoeffding = math.sqrt(2 * log * (cap**2 / 4 + ffp**2 / 4 + 2 * noise**2) / n)
    return min(bernstein, hoeffding)


def test_each_type_gets_its_own_margin_the_untyped_closed_form_with_its_gains() -> None:
    typed = deter.loads(SPEC + TYPES + LEARNER.format(n=2000, s=0.5, b="bernstein")).spec
    lift = learner_lift(typed)
    assert lift.shape == (2, 3)
    for k, gains in enumerate(({}, {"hack": 1.5, "tamper": 2.0})):
        text = SPEC
        for name, gain in gains.items():
            text = text.replace(
                f'name = "{name}"\ngain = {3.0 if name == "hack" else 4.0}',
                f'name = "{name}"\ngain = {gain}',
            )
        alone = deter.loads(text + LEARNER.format(n=2000, s=0.5, b="bernstein")).spec
        assert lift[k] == pytest.approx(learner_margins(alone), rel=1e-12)
    assert lift[1, 2] != lift[0, 2]  # a smaller gap: a different margin
    hoeffding = deter.loads(SPEC + TYPES + LEARNER.format(n=2000, s=0.5, b="hoeffding")).spec
    assert (learner_lift(hoeffding) == learner_lift(hoeffding)[0]).all()  # rate-free


def test_typed_bernstein_is_certified_per_type_and_no_dearer_than_hoeffding() -> None:
    problem = deter.loads(SPEC + TYPES + LEARNER.format(n=2000, s=0.5, b="bernstein"))
    result = problem.solve()
    hoeffding = deter.loads(SPEC + TYPES + LEARNER.format(n=2000, s=0.5, b="hoeffding")).solve()
    assert result.status == hoeffding.status == "optimal", result.message
    assert result.total_cost <= hoeffding.total_cost * (1 + 1e-9)
    assert any("Bernstein margins certified" in note for note in result.notes)
    honest = next(a for a in result.actions if a.compliant)
    checked = 0
    for gains in ({"hack": 3.0, "tamper": 4.0}, {"hack": 1.5, "tamper": 2.0}):
        eu0 = -honest.penalty * honest.detection
        for action in result.actions:
            if action.compliant:
                continue
            need = _requirement(action.detection, action.penalty, 1.0, honest.detection, 0.5, 2000)
            lead = eu0 - (gains[action.name] - action.penalty * action.detection)
            assert lead >= need - 1e-7 * max(1.0, need)
            measured = _violation(
                gains[action.name], action.penalty, action.detection, 1.0,
                honest.detection, 0.5, 2000, trials=50_000,
            )  # fmt: skip
            assert measured <= 0.05
            checked += 1
    assert checked == 4


@pytest.mark.parametrize("design", ["per_action", "shared"])
@pytest.mark.parametrize(("n", "noise"), [(2000, 0.5), (50, 0.0)])
def test_a_penalty_design_is_certified_at_its_own_rates_and_penalties(
    design: str, n: int, noise: float
) -> None:
    penalty = f'\n[penalty]\ndesign = "{design}"\ncost = 0.01\n'
    problem = deter.loads(NO_FLAGS + penalty + LEARNER.format(n=n, s=noise, b="bernstein"))
    result = problem.solve()
    hoeffding = deter.loads(NO_FLAGS + penalty + LEARNER.format(n=n, s=noise, b="hoeffding"))
    assert result.status == "optimal", result.message
    assert any("certified at the policy's own rates and penalties" in x for x in result.notes)
    assert result.total_cost <= hoeffding.solve().total_cost * (1 + 1e-7)
    assert engine_learner.shortfalls(problem.spec, result, TOLERANCE) == []
    gains = {"hack": 3.0, "tamper": 4.0}
    for action in result.actions:
        if action.compliant:
            continue
        assert action.penalty < {"hack": 20.0, "tamper": 10.0}[action.name] + 1e-9
        need = _requirement(action.detection, action.penalty, 0.0, 0.0, noise, n)
        lead = -(gains[action.name] - action.penalty * action.detection)
        assert lead >= need - 1e-7 * max(1.0, need)
        measured = _violation(
            gains[action.name], action.penalty, action.detection, 0.0, 0.0, noise, n, 50_000
        )
        assert measured <= 0.05


def test_with_a_penalty_design_the_relaxation_ranges_over_penalties_too() -> None:
    """sigma = 3, 2 samples: even with no penalty variance the noise alone needs
    sqrt(4 sigma^2 ln 20 / 2) = 7.3 USD, more than tampering's 10 USD cap can add to its
    4 USD gain: infeasible, proved by the relaxation over every rate and penalty."""
    penalty = '\n[penalty]\ndesign = "per_action"\ncost = 0.01\n'
    result = deter.loads(NO_FLAGS + penalty + LEARNER.format(n=2, s=3.0, b="bernstein")).solve()
    assert result.status == "infeasible", result.message
    assert any("every rate and penalty" in note for note in result.notes)


def test_an_iterate_short_at_its_penalties_raises_only_its_own_margin() -> None:
    """An iterate whose hack penalty were halved (its lead falls below the requirement):
    only hack's margin is raised, to at least the requirement at that iterate."""
    from dataclasses import replace

    penalty = '\n[penalty]\ndesign = "per_action"\ncost = 0.01\n'
    problem = deter.loads(NO_FLAGS + penalty + LEARNER.format(n=2000, s=0.5, b="bernstein"))
    spec = problem.spec
    solved = deter.solve(spec)
    assert engine_learner.shortfalls(spec, solved, TOLERANCE) == []
    iterate = replace(
        solved,
        actions=tuple(
            replace(a, penalty=a.penalty / 2) if a.name == "hack" else a for a in solved.actions
        ),
    )
    (short,) = engine_learner.shortfalls(spec, iterate, TOLERANCE)
    assert short.startswith("hack:")
    raised = engine_learner.raised_floor(spec, iterate, TOLERANCE)
    before, after = learner_lift(spec), learner_lift(raised)
    assert after[0, 2] == before[0, 2] and after[0, 0] == 0
    (hack,) = [r for r in engine_learner.requirements(spec, iterate) if r.name == "hack"]
    assert after[0, 1] == pytest.approx(
        max(before[0, 1], hack.need * (1 + 4 * TOLERANCE)), rel=1e-12
    )
    # an iterate of the program leads by at least its margin, so a short pair's requirement
    # is above it and the margin rises; a floor above every requirement raises nothing
    high = spec.model_copy(update={"learner": spec.learner.with_floor(((0.0, 5.0, 5.0),))})
    assert (learner_lift(engine_learner.raised_floor(high, iterate, TOLERANCE)) == [0, 5, 5]).all()


@pytest.mark.parametrize("family", ["types", "penalty_design"])
@pytest.mark.parametrize("seed", range(4))
def test_on_the_vocabularys_typed_and_designed_specs_bernstein_is_certified(
    family: str, seed: int
) -> None:
    """The generator's types and penalty_design specs with a Bernstein learner added: the
    verdict is Hoeffding's or better (optimal where Hoeffding's is infeasible), never
    solver_error here, and every optimal answer is certified at its own rates and penalties."""
    from deter.solver.results.errors import SpecError

    from tests.support.vocabulary import generate

    rng = np.random.default_rng(seed)
    n, noise = int(10 ** rng.uniform(1.5, 5)), float(rng.uniform(0, 1))
    for flag in (False, True):
        text = generate(family, seed, flag).text
        answers = {}
        for bound in ("hoeffding", "bernstein"):
            try:
                problem = deter.loads(text + LEARNER.format(n=n, s=noise, b=bound))
            except SpecError as error:
                assert "risk_aversion" in str(error)  # a risk-averse type: refused
                break
            answers[bound] = problem.solve()
        if not answers:
            continue
        result, hoeffding = answers["bernstein"], answers["hoeffding"]
        assert result.status == hoeffding.status or (
            result.status == "optimal" and hoeffding.status == "infeasible"
        ), (seed, flag, result.message)
        if result.status == "optimal":
            assert engine_learner.shortfalls(problem.spec, result, TOLERANCE) == []


def test_the_designed_relaxation_is_the_closed_form_and_never_above_the_requirement() -> None:
    """Without noise M_min(E) = c E, c = min(L / (3 n), sqrt(L / (2 n))): E* = gap / (1 - c),
    so m = gap c / (1 - c); and with noise, at random rates and penalties, the relaxation's
    margin admits every (P, F) that meets the learner's requirement."""
    from deter.solver.model.learning import bernstein_requirement, designed_relaxation_margin

    log = math.log(20)
    for gap, n in ((3.0, 50), (1.0, 10), (4.0, 2000)):
        c = min(log / (3 * n), math.sqrt(log / (2 * n)))
        got = designed_relaxation_margin(gap, 20.0, 0.0, n, 0.95)
        assert got == pytest.approx(gap * c / (1 - c), rel=1e-7, abs=1e-7)
        assert got <= gap * c / (1 - c) + 1e-12
    rng = np.random.default_rng(5)
    for _ in range(2000):
        gap, cap, noise = rng.uniform(-1, 5), rng.uniform(0.5, 20), rng.uniform(0, 2)
        n = int(rng.integers(2, 500))
        p, f = rng.uniform(0, 1), rng.uniform(0, cap)
        need = float(bernstein_requirement(p, f, 0.0, 0.0, noise, n, 0.95))
        if f * p - gap >= need:  # the learner's requirement holds here ...
            assert f * p - gap >= designed_relaxation_margin(gap, cap, noise, n, 0.95) - 1e-12


def test_a_penalty_design_the_learner_cannot_meet_is_proved_infeasible() -> None:
    """sigma = 2, 2 samples: no rate and penalty within the caps leads tampering by what
    the learner needs; the relaxation over every rate and penalty proves it (it used to be
    solver_error: the relaxation took every margin at F = 0, with no gap)."""
    penalty = '\n[penalty]\ndesign = "per_action"\ncost = 0.01\n'
    result = deter.loads(NO_FLAGS + penalty + LEARNER.format(n=2, s=2.0, b="bernstein")).solve()
    assert result.status == "infeasible", result.message
    assert any("every rate and penalty" in note for note in result.notes)
