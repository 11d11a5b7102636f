"""deter/LongTask-v0 (issue 23 item 2): the env, and the [horizon] model against its Monte Carlo.

The model (docs/model.md, "Long horizons") says that an agent discounting by gamma, in a task
whose penalties land audit_delay = d steps later and are paid only if it is still there
(retention rho per step), values a step's shortcut i at g_i - kappa P_i F_i and honest work at
-kappa P_0 F_fp, kappa = (gamma rho)^d, and that with audits unseen every step stands alone.
So the discounted return of "take i whenever possible, else work honestly" is

    sum_{t < T} (gamma rho)^t [q (g_i - kappa P_i F_i) + (1 - q)(-kappa P_0 F_fp)],

which the env's Monte Carlo must match; and the design deter makes for the spec with
[horizon] leaves every shortcut worse than honest work in the env, while the one-step design
does not.
"""

from __future__ import annotations

import math
from typing import Any

import deter
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from deter.rl import CODING_AGENT_POLICY, CODING_AGENT_SPEC, LONG_ENV_ID, LongTaskEnv  # noqa: E402
from deter.solver.policy.document import build_policy  # noqa: E402
from deter.solver.policy.runtime import Auditor  # noqa: E402
from deter.solver.rl.population import Task, plan_values, play_episode  # noqa: E402

GAMMA, DELAY, RHO, STEPS, CHANCE = 0.95, 3, 0.95, 5, 0.5
TASK = Task(steps=STEPS, audit_delay=DELAY, retention=RHO, opportunity=CHANCE, discount=GAMMA)
HORIZON = f"\n[horizon]\ndiscount = {GAMMA}\naudit_delay = {DELAY}\nretention = {RHO}\n"


def designed(extra: str, label: str) -> dict[str, Any]:
    problem = deter.loads(CODING_AGENT_SPEC + extra)
    return build_policy(problem.spec, problem.solve(), label=label)


def closed_form(doc: dict[str, Any], action: str) -> float:
    kappa = (GAMMA * RHO) ** DELAY
    gains = {a["name"]: a["gain"] for a in doc["actions"]}
    d = doc["designed"]
    honest = -kappa * d["false_flag_rate"] * doc["false_positive_penalty"]
    step = honest
    if action != doc["compliant"]:
        shortcut = gains[action] - kappa * d["detection"][action] * doc["penalties"][action]
        step = CHANCE * shortcut + (1 - CHANCE) * honest
    return sum((GAMMA * RHO) ** t * step for t in range(STEPS))


def monte_carlo(doc: dict[str, Any], action: str, episodes: int, seed: int) -> tuple[float, float]:
    """(mean, standard error) of the discounted return of 'take ``action`` when possible'."""
    env = LongTaskEnv(doc, steps=STEPS, audit_delay=DELAY, retention=RHO, opportunity=CHANCE)
    a = env.action_names.index(action)
    returns = np.empty(episodes)
    for e in range(episodes):
        env.reset(seed=seed + e)
        total, k, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(a)
            total += GAMMA**k * reward
            k += 1
            done = terminated or truncated
        returns[e] = total
    return float(returns.mean()), float(returns.std(ddof=1) / math.sqrt(episodes))


def population(doc: dict[str, Any], action: str, episodes: int, seed: int) -> tuple[float, float]:
    """The same, from the vectorised twin (``solver/rl/population.py``): ``episodes`` agents."""
    auditor = Auditor(doc, seed=seed, warn=False)
    plans = np.full(episodes, [a["name"] for a in doc["actions"]].index(action))
    returns = play_episode(auditor, plans, TASK, np.random.default_rng(seed + 1)).returns
    return float(returns.mean()), float(returns.std(ddof=1) / math.sqrt(episodes))


def test_it_is_registered_and_passes_gymnasiums_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(LONG_ENV_ID)
    assert isinstance(env.unwrapped, LongTaskEnv)
    check_env(env.unwrapped, skip_render_check=True)


def test_penalties_land_later_unseen_and_the_review_steps_end_the_task() -> None:
    doc = {**CODING_AGENT_POLICY, "rates": {**CODING_AGENT_POLICY["rates"], "unit_test_audit": 1}}
    env = LongTaskEnv(doc, steps=2, audit_delay=2, retention=1.0, opportunity=1.0)
    obs, _ = env.reset(seed=1)
    tamper = env.action_names.index("test_tampering")
    rewards, infos, done = [], [], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(tamper)
        rewards.append(reward)
        infos.append(info)
        done = terminated or truncated
        assert obs[-1] == 0.0  # audits unseen by default
    assert len(rewards) == 4  # two work steps, two review steps
    scheduled = [i["penalty_scheduled"] for i in infos[:2]]
    assert [i["penalty_landed"] for i in infos] == [0.0, 0.0, *scheduled]
    assert rewards[0] == 4.0 and rewards[2] == -scheduled[0]
    assert not infos[2]["working"] and infos[2]["violation"] is False


def test_a_shortcut_that_is_not_possible_is_honest_work_and_flags_can_be_observed() -> None:
    env = LongTaskEnv(opportunity=0.0, observe_audits=True)
    obs, info = env.reset(seed=0)
    assert info["possible"].tolist() == [True, False, False, False]
    _, reward, _, _, info = env.step(2)
    assert info["action_label"] == "honest" and reward == 0.0 and not info["violation"]
    always = {
        **CODING_AGENT_POLICY,
        "rates": {"unit_test_audit": 0, "llm_judge": 1, "human_review": 0},
    }
    env = LongTaskEnv(always, opportunity=1.0, observe_audits=True, retention=1.0)
    env.reset(seed=3)
    flags = 0
    for _ in range(3):
        obs, _, _, _, info = env.step(1)  # reward hacking: the judge flags 60%
        flags += int(info["flagged"])
    assert obs[-1] == pytest.approx(min(1.0, flags / env.steps))


@pytest.mark.parametrize("action", ["honest", "test_tampering", "reward_hack"])
def test_the_discounted_return_is_the_models(action: str) -> None:
    doc = designed(HORIZON + "\n", "horizon optimum")
    mean, se = monte_carlo(doc, action, episodes=2500, seed=100)
    assert abs(mean - closed_form(doc, action)) <= 4 * se + 1e-9


def test_the_design_deters_in_the_env_and_the_one_step_design_does_not() -> None:
    # With a margin of 0.15 at the act (0.5 is infeasible here: human review alone sees
    # sandbagging, and at kappa = 0.735 it can put at most 0.735 x 0.08 x 20 = 1.18 against
    # its gain of 1), every shortcut trails honest work in the model ...
    text = CODING_AGENT_SPEC.replace("[agent]\n", "[agent]\nmargin = 0.15\n") + HORIZON
    problem = deter.loads(text)
    doc = build_policy(problem.spec, problem.solve(), label="horizon, margin 0.15")
    honest = closed_form(doc, "honest")
    for action in ("reward_hack", "test_tampering", "sandbag"):
        assert closed_form(doc, action) < honest
    # ... and the env agrees (a shortcut's return has a 20 USD penalty in it: the env's
    # Monte Carlo matches the model, the vectorised twin measures the 0.3 USD gap)
    mean, se = monte_carlo(doc, "test_tampering", episodes=1500, seed=7)
    assert abs(mean - closed_form(doc, "test_tampering")) <= 4 * se
    low, se_low = population(doc, "test_tampering", episodes=200_000, seed=7)
    high, se_high = population(doc, "honest", episodes=20_000, seed=8)
    assert low + 4 * math.hypot(se_low, se_high) < high
    # the one-step optimum, blind to the delay, leaves tampering paying in the env
    naive, se_naive = monte_carlo(CODING_AGENT_POLICY, "test_tampering", episodes=1500, seed=9)
    assert closed_form(CODING_AGENT_POLICY, "test_tampering") > 0.5
    assert naive - 4 * se_naive > closed_form(CODING_AGENT_POLICY, "honest")
    assert doc["designed"]["cost_per_episode"] > CODING_AGENT_POLICY["designed"]["cost_per_episode"]


def test_the_vectorised_population_plays_the_envs_game() -> None:
    doc = designed(HORIZON, "horizon optimum")
    assert plan_values(doc, TASK).tolist() == pytest.approx(
        [closed_form(doc, a) for a in ("honest", "reward_hack", "test_tampering", "sandbag")],
        rel=1e-12,
    )
    for action in ("honest", "reward_hack", "sandbag"):
        mean, se = population(doc, action, episodes=100_000, seed=11)
        assert abs(mean - closed_form(doc, action)) <= 4 * se + 1e-12
    # departures: with rho = 0.5 half the agents leave after each step, and none is charged
    auditor = Auditor(CODING_AGENT_POLICY, seed=3, warn=False)
    short = Task(steps=5, audit_delay=3, retention=0.5, opportunity=1.0, discount=1.0)
    played = play_episode(auditor, np.full(40_000, 2), short, np.random.default_rng(4))
    expected_steps = sum(0.5**t for t in range(5))
    assert played.work_steps.mean() == pytest.approx(expected_steps, rel=0.02)
    assert bool(np.all(played.shortcuts == played.work_steps))
