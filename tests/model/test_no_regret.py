"""Leads for no-regret learners (solver/model/no_regret.py): closed forms and Monte Carlo.

The Monte Carlo plays the experiment's own Exp3 and Hedge (solver/rl/learners.py) on a
two-action game at a policy whose lead is exactly the designed margin: the share of learners
deploying the shortcut after T rounds (or the share of rounds spent on it) is at most delta;
at a quarter of the lead it is above delta, so the margin is doing the work.
"""

from __future__ import annotations

import math

import deter
import numpy as np
import pytest
from deter.solver.model.learning import hoeffding_margin, learner_margins, reward_reach
from deter.solver.model.no_regret import (
    average_margin,
    exp3_exploration,
    exp3_final_margins,
    exp3_regret,
    hedge_regret,
)
from deter.solver.results.errors import SpecError
from deter.solver.rl.learners import BanditExp3, Hedge

# honest 0; shortcut gains 1, caught by the judge (detects 1.0) and pays 4
TWO = """
[agent]
penalty_cap = 4.0
[[actions]]
name = "honest"
gain = 0.0
[[actions]]
name = "shortcut"
gain = 1.0
[[monitors]]
name = "judge"
cost = 1.0
detects = { shortcut = 1.0 }
"""


def _spec(learner: str, base: str = TWO) -> deter.Problem:
    return deter.loads(base + "\n[learner]\n" + learner)


def test_exp3_final_margin_is_freedmans_root_written_out() -> None:
    reach, c0, n, rounds, gamma, confidence = 4.0, 3.0, 2, 2000, 0.5, 0.95
    log = math.log(1 / 0.05)
    beta = (n / gamma) * reach + c0
    variance = rounds * (n / gamma) * (reach**2 + c0**2)
    a = beta * log / 3 + math.sqrt((beta * log / 3) ** 2 + 2 * variance * log)
    got = exp3_final_margins(np.array([reach]), c0, n, rounds, gamma, confidence)[0]
    assert got == pytest.approx(a / rounds, rel=1e-12)
    # it is the larger root of Freedman's exponent: a^2 / (2 (V + a b / 3)) = L
    assert (a**2) / (2 * (variance + a * beta / 3)) == pytest.approx(log, rel=1e-12)


def test_exp3_final_margin_shrinks_with_rounds_and_exploration() -> None:
    def m(rounds: int, gamma: float) -> float:
        return float(exp3_final_margins(np.array([4.0]), 3.0, 4, rounds, gamma, 0.95)[0])

    assert m(40_000, 0.1) > m(400_000, 0.1) > m(4_000_000, 0.1)
    assert m(40_000, 0.05) > m(40_000, 0.3) > m(40_000, 1.0)
    # at the tuned gamma (~ T^-1/2) the lead falls only as T^-1/4
    tuned = [m(t, exp3_exploration(4, t)) for t in (10**4, 10**6)]
    assert tuned[0] / tuned[1] == pytest.approx(100**0.25, rel=0.05)


def test_regret_bounds_and_average_margins_are_the_cited_closed_forms() -> None:
    n, rounds = 4, 40_000
    gamma = exp3_exploration(n, rounds)
    assert gamma == pytest.approx(math.sqrt(n * math.log(n) / ((math.e - 1) * rounds)))
    assert exp3_regret(n, rounds, gamma) == pytest.approx(
        2 * math.sqrt(math.e - 1) * math.sqrt(rounds * n * math.log(n))
    )
    assert hedge_regret(n, rounds) == pytest.approx(math.sqrt(rounds * math.log(n) / 2))
    assert exp3_regret(n, 10, 0.001) == 10  # never more than T
    assert average_margin(23.0, 100.0, 1000, 0.9) == pytest.approx(23.0 * 100 / (0.1 * 1000))


def test_the_spec_margins_use_the_range_at_the_caps_and_every_type() -> None:
    problem = _spec('algorithm = "exp3"\nrounds = 2000\nexploration = 0.5\n')
    reach, width = reward_reach(problem.spec)
    assert list(reach) == [3.0, 4.0] and width == 4.0  # low = 1 - 4
    margins = learner_margins(problem.spec)
    assert margins[0] == 0
    assert margins[1] == pytest.approx(
        exp3_final_margins(np.array([4.0]), 3.0, 2, 2000, 0.5, 0.95)[0]
    )
    # a type with a larger gain widens the range: every margin grows (conservative for all)
    typed = TWO + '\n[[types]]\nname = "a"\nweight = 0.5\n[[types]]\nname = "b"\nweight = 0.5\n'
    typed += "gains = { shortcut = 2.0 }\n"
    wide = _spec('algorithm = "exp3"\nrounds = 2000\nexploration = 0.5\n', typed)
    assert list(reward_reach(wide.spec)[0]) == [3.0, 5.0]
    assert learner_margins(wide.spec)[1] > margins[1]
    # [horizon]: the learner sees the discounted penalty gamma^d F
    horizon = TWO + "\n[horizon]\ndiscount = 0.5\naudit_delay = 1\n"
    late = _spec('algorithm = "exp3"\nrounds = 2000\nexploration = 0.5\n', horizon)
    assert list(reward_reach(late.spec)[0]) == [1.0, 2.0]


def test_hedges_deployed_action_is_a_sample_mean_of_t_rounds() -> None:
    hedge = _spec('algorithm = "hedge"\nrounds = 500\nconfidence = 0.9\n')
    assert learner_margins(hedge.spec)[1] == pytest.approx(
        hoeffding_margin(np.array([4.0]), 0.0, 0.0, 500, 0.9)[0]
    )
    sample_mean = _spec("samples = 500\nconfidence = 0.9\n")
    assert list(learner_margins(hedge.spec)) == list(learner_margins(sample_mean.spec))
    average = _spec('algorithm = "hedge"\nrounds = 500\nviolation = "average"\n')
    assert learner_margins(average.spec)[1] == pytest.approx(
        4.0 * hedge_regret(2, 500) / (0.05 * 500)
    )


def _play(kind: str, lead: float, rounds: int, agents: int, gamma: float, seed: int):
    """(share deploying the shortcut, share of rounds on it) for the two-action game with
    the shortcut caught with P = (1 + lead) / 4 (lead = 4 P - 1)."""
    p = (1.0 + lead) / 4.0
    low, high = -3.0, 1.0
    rng = np.random.default_rng(seed)
    learner = (
        BanditExp3(agents, 2, gamma, low, high)
        if kind == "exp3"
        else Hedge(agents, 2, math.sqrt(8 * math.log(2) / rounds), low, high)
    )
    on_shortcut = np.zeros(agents)
    for episode in range(rounds):
        actions = learner.choose(rng, episode)
        caught = rng.random(agents) < p
        every = np.stack([np.zeros(agents), 1.0 - 4.0 * caught], axis=1)
        learner.update(actions, every[np.arange(agents), actions], every)
        on_shortcut += actions == 1
    return float(np.mean(learner.final() == 1)), float(np.mean(on_shortcut) / rounds)


@pytest.mark.parametrize("gamma", [0.5, 1.0])
def test_exp3_at_its_final_margin_deploys_the_shortcut_at_most_delta(gamma: float) -> None:
    rounds, confidence = 1500, 0.9
    margin = exp3_final_margins(np.array([4.0]), 3.0, 2, rounds, gamma, confidence)[0]
    assert margin < 3.0  # a detection P <= 1 can give it
    at_margin, _ = _play("exp3", margin, rounds, 2000, gamma, seed=1)
    assert at_margin <= 1 - confidence
    below, _ = _play("exp3", margin / 8, rounds, 2000, gamma, seed=2)
    assert below > 1 - confidence


def test_exp3_and_hedge_at_their_average_margins_spend_at_most_delta_on_the_shortcut() -> None:
    rounds, confidence = 6000, 0.8
    gamma = exp3_exploration(2, rounds)
    exp3_lead = average_margin(4.0, exp3_regret(2, rounds, gamma), rounds, confidence)
    hedge_lead = average_margin(4.0, hedge_regret(2, rounds), rounds, confidence)
    assert exp3_lead < 3.0 and hedge_lead < 3.0
    _, exp3_share = _play("exp3", exp3_lead, rounds, 300, gamma, seed=3)
    _, hedge_share = _play("hedge", hedge_lead, rounds, 300, gamma, seed=4)
    assert exp3_share <= 1 - confidence and hedge_share <= 1 - confidence
    # with no lead at all the shortcut is played about half the time
    _, tied = _play("exp3", 0.0, rounds, 300, gamma, seed=5)
    assert tied > 1 - confidence


@pytest.mark.parametrize(
    ("learner", "key"),
    [
        ('algorithm = "exp3"\n', "learner.rounds"),
        ('algorithm = "exp3"\nrounds = 10\nsamples = 5\n', "learner.samples"),
        ('algorithm = "hedge"\nrounds = 10\nexploration = 0.1\n', "learner.exploration"),
        ('algorithm = "exp3"\nrounds = 10\nexploration = 0.0\n', "learner.exploration"),
        ('algorithm = "exp3"\nrounds = 10\nexploration = 1.5\n', "learner.exploration"),
        ('algorithm = "exp3"\nrounds = 10\nreward_noise = 0.1\n', "learner.reward_noise"),
        ('algorithm = "exp3"\nrounds = 10\nbound = "bernstein"\n', "learner.bound"),
        (
            'algorithm = "hedge"\nrounds = 10\nviolation = "average"\nbound = "bernstein"\n',
            "learner.bound",
        ),
        ('algorithm = "ucb"\nrounds = 10\n', "learner.algorithm"),
        ('algorithm = "exp3"\nrounds = 10\nviolation = "worst"\n', "learner.violation"),
        ("samples = 10\nrounds = 10\n", "learner.rounds"),
        ('samples = 10\nviolation = "final"\n', "learner.violation"),
        ("confidence = 0.9\n", "learner.samples"),
    ],
)
def test_a_bad_algorithm_key_is_a_located_spec_error(learner: str, key: str) -> None:
    with pytest.raises(SpecError) as caught:
        _spec(learner)
    assert key in str(caught.value)
