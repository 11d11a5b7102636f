"""Learning-aware margins (issue 23 item 1): the closed form, Monte Carlo, and the design.

The margin m_i = sqrt(2 ln(1/delta) (F_i^2/4 + F_fp^2/4 + 2 sigma^2) / n) is checked against
Hoeffding's one-sided bound, then by simulation: at a policy where a shortcut trails
compliance by exactly m_i, the fraction of learners whose n-sample mean of the shortcut's
reward reaches their n-sample mean of compliance's is at most delta; with no margin it is
about a half (the tie the issue found).
"""

from __future__ import annotations

import math

import deter
import numpy as np
import pytest
from deter.solver.model.arrays import ProblemArrays
from deter.solver.model.learning import hoeffding_margin, learner_margins
from deter.solver.results.errors import SpecError

SPEC = """
[agent]
penalty_cap = 20.0
false_positive_penalty = 1.0

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "hack"
gain = 3.0

[[actions]]
name = "tamper"
gain = 4.0
penalty_cap = 10.0

[[monitors]]
name = "judge"
cost = 0.1
detects = { hack = 0.9, tamper = 0.5 }
false_positive = 0.03

[[monitors]]
name = "review"
cost = 2.0
detects = { hack = 1.0, tamper = 1.0 }
"""

LEARNER = "\n[learner]\nsamples = {n}\nconfidence = {c}\nreward_noise = {s}\n"


def test_without_noise_or_false_flags_it_is_hoeffdings_bound() -> None:
    for cap, n, confidence in [(20.0, 1000, 0.95), (1.0, 1, 0.5), (7.5, 123_456, 0.999)]:
        got = hoeffding_margin(np.array([cap]), 0.0, 0.0, n, confidence)[0]
        assert got == pytest.approx(cap * math.sqrt(math.log(1 / (1 - confidence)) / (2 * n)))


def test_the_margin_shrinks_as_one_over_root_n_and_grows_with_each_range() -> None:
    base = hoeffding_margin(np.array([20.0]), 1.0, 0.5, 100, 0.9)[0]
    assert hoeffding_margin(np.array([20.0]), 1.0, 0.5, 400, 0.9)[0] == pytest.approx(base / 2)
    assert hoeffding_margin(np.array([20.0]), 2.0, 0.5, 100, 0.9)[0] > base
    assert hoeffding_margin(np.array([20.0]), 1.0, 1.0, 100, 0.9)[0] > base
    assert hoeffding_margin(np.array([20.0]), 1.0, 0.5, 100, 0.99)[0] > base
    with pytest.raises(ValueError):
        hoeffding_margin(np.array([1.0]), 0.0, 0.0, 0, 0.9)
    with pytest.raises(ValueError):
        hoeffding_margin(np.array([1.0]), 0.0, 0.0, 10, 1.0)


def _violation(
    gap: float, cap: float, p: float, ffp: float, p0: float, noise: float, n: int, trials: int
) -> float:
    """Monte Carlo P(mean_n(shortcut) >= mean_n(compliance)); the shortcut pays ``gap`` more
    before penalties (g_i - g_0), is caught with ``p`` and pays ``cap``; compliance is falsely
    flagged with ``p0`` and pays ``ffp``."""
    rng = np.random.default_rng(20260623)
    shortcut = (
        gap - cap * rng.binomial(n, p, trials) / n + rng.normal(0, noise / math.sqrt(n), trials)
    )
    comply = -ffp * rng.binomial(n, p0, trials) / n + rng.normal(0, noise / math.sqrt(n), trials)
    return float(np.mean(shortcut >= comply))


@pytest.mark.parametrize(
    ("cap", "p", "ffp", "p0", "noise", "n", "confidence"),
    [
        (20.0, 0.5, 0.0, 0.0, 0.0, 200, 0.95),  # the largest variance a range allows
        (20.0, 0.15, 1.0, 0.03, 0.0, 1000, 0.9),  # the coding agent's shape
        (4.0, 0.3, 2.0, 0.2, 1.5, 50, 0.8),  # noisy rewards, few samples
        (10.0, 0.5, 0.0, 0.0, 0.0, 5, 0.7),  # very few samples (discrete means)
    ],
)
def test_at_the_margin_a_learner_prefers_the_shortcut_at_most_delta_of_the_time(
    cap: float, p: float, ffp: float, p0: float, noise: float, n: int, confidence: float
) -> None:
    margin = hoeffding_margin(np.array([cap]), ffp, noise, n, confidence)[0]
    # EU_i + m = EU_0: gap - p cap + m = -p0 ffp
    gap = p * cap - p0 * ffp - margin
    delta = 1 - confidence
    measured = _violation(gap, cap, p, ffp, p0, noise, n, trials=200_000)
    assert measured <= delta
    # and without the margin the tie is a coin flip: the margin is what does the work
    tied = _violation(p * cap - p0 * ffp, cap, p, ffp, p0, noise, n, trials=200_000)
    assert tied > 0.3


def test_the_design_meets_every_margin_at_its_own_rates_and_costs_more() -> None:
    plain = deter.loads(SPEC).solve()
    text = SPEC + LEARNER.format(n=2000, c=0.95, s=0.5)
    problem = deter.loads(text)
    learned = problem.solve()
    assert plain.status == learned.status == "optimal"
    assert learned.total_cost is not None and plain.total_cost is not None
    assert learned.total_cost > plain.total_cost
    margins = learner_margins(problem.spec)
    assert margins[0] == 0 and (margins[1:] > 0).all()
    by_name = {a.name: a for a in learned.actions}
    honest = by_name["honest"]
    eu0 = -honest.detection * honest.penalty
    for i, name in enumerate(("honest", "hack", "tamper")):
        action = by_name[name]
        # results report the spec's gains; the margin is in the net incentive
        assert action.gain == {"honest": 0.0, "hack": 3.0, "tamper": 4.0}[name]
        if i:
            eu = action.gain - action.detection * action.penalty
            assert eu + margins[i] <= eu0 + 1e-7
            measured = _violation(
                action.gain,
                action.penalty,
                action.detection,
                1.0,
                honest.detection,
                0.5,
                2000,
                trials=100_000,
            )
            assert measured <= 0.05
    # simulation keeps the agent's own gains; the design's arrays carry the margins
    assert ProblemArrays.from_spec(problem.spec).gain.tolist() == [0.0, 3.0, 4.0]
    assert ProblemArrays.for_design(problem.spec).gain[1:] == pytest.approx(
        np.array([3.0, 4.0]) + margins[1:]
    )


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("\n[learner]\nsamples = 0\n", "learner.samples"),
        ("\n[learner]\nsamples = 10.0\n", "learner.samples"),
        ("\n[learner]\nsamples = 10\nconfidence = 1.0\n", "learner.confidence"),
        ("\n[learner]\nsamples = 10\nconfidence = 0\n", "learner.confidence"),
        ("\n[learner]\nsamples = 10\nreward_noise = -1.0\n", "learner.reward_noise"),
        ("\n[learner]\nconfidence = 0.9\n", "learner.samples"),
        ("\n[learner]\nsamples = 10\nepisodes = 3\n", "learner.episodes"),
    ],
)
def test_a_bad_learner_is_a_spec_error_naming_its_key(extra: str, key: str) -> None:
    with pytest.raises(SpecError) as caught:
        deter.loads(SPEC + extra)
    assert key in str(caught.value)


def test_a_risk_averse_learner_is_refused_with_the_reason() -> None:
    text = SPEC.replace("[agent]\n", "[agent]\nrisk_aversion = 0.1\n") + LEARNER.format(
        n=10, c=0.9, s=0.0
    )
    with pytest.raises(SpecError) as caught:
        deter.loads(text)
    assert "risk_aversion" in str(caught.value) and "learner" in str(caught.value)


def test_every_type_gets_the_margin_and_the_cost_is_the_closed_form() -> None:
    text = """
[agent]
penalty_cap = 20.0
[[actions]]
name = "honest"
gain = 0.0
[[actions]]
name = "hack"
gain = 3.0
[[monitors]]
name = "judge"
cost = 0.1
detects = { hack = 0.9 }
[[types]]
name = "a"
weight = 0.5
[[types]]
name = "b"
weight = 0.5
gains = { hack = 5.0 }
[learner]
samples = 1000
"""
    result = deter.loads(text).solve()
    margin = 20.0 * math.sqrt(math.log(20) / 2000)
    # the binding type gains 5: 0.9 x 20 x rate = 5 + m, at cost 0.1 per unit of rate
    assert result.total_cost == pytest.approx(0.1 * (5.0 + margin) / 18.0, rel=1e-6)


def test_a_spec_without_a_learner_keeps_its_content_hash_and_one_with_it_changes() -> None:
    from deter.solver.policy.document import spec_sha256

    plain = deter.loads(SPEC).spec
    learned = deter.loads(SPEC + LEARNER.format(n=10, c=0.9, s=0.0)).spec
    assert spec_sha256(plain) != spec_sha256(learned)
