"""PPO's credit for a delayed penalty, and the PPO runners through a policy-gradient double.

docs/model.md ("Long horizons", PPO): GAE weighs a reward k steps after the act by
(gamma lambda)^k, so in ``deter/LongTask-v0`` (audits unseen) the act's expected advantage
over honest work is (g_i - g_0) - (gamma lambda rho)^d (P_i F_i - P_0 F_fp), which is what
``[learner] algorithm = "ppo"`` designs for. Checked on the recursion itself (closed form),
against stable-baselines3's buffer where it is installed, and by Monte Carlo of the env.
The runners (``run_ppo``, ``run_ppo_long``) are trained end to end with
``tests/support/policy_gradient.py``, which needs no torch, so CI runs them.
"""

from __future__ import annotations

import math
from typing import Any

import deter
import numpy as np
import pytest
from deter.rl import CODING_AGENT_SPEC, LongTaskEnv
from deter.solver.policy.document import build_policy, scaled, with_rates
from deter.solver.rl.experiment import run_ppo
from deter.solver.rl.population import Task
from deter.solver.rl.ppo import gae_advantages
from deter.solver.rl.study import credited_leads, run_ppo_long

from tests.support.policy_gradient import double

GAMMA, DELAY, RHO = 0.95, 3, 0.95
HORIZON = f"\n[horizon]\ndiscount = {GAMMA}\naudit_delay = {DELAY}\nretention = {RHO}\n"


def designed(extra: str = "", label: str = "optimal") -> dict[str, Any]:
    problem = deter.loads(CODING_AGENT_SPEC + extra)
    return build_policy(problem.spec, problem.solve(), label=label)


@pytest.mark.parametrize(("gamma", "lam", "d"), [(0.95, 0.95, 3), (0.9, 0.5, 5), (1.0, 1.0, 2)])
def test_a_reward_d_steps_later_is_credited_gamma_lambda_to_the_d(
    gamma: float, lam: float, d: int
) -> None:
    rewards = np.zeros(d + 4)
    rewards[d] = 1.0
    starts = np.zeros(d + 4, dtype=bool)
    starts[0] = True
    adv = gae_advantages(rewards, np.zeros(d + 4), starts, 0.0, True, gamma, lam)
    assert adv[0] == pytest.approx((gamma * lam) ** d, rel=1e-12)
    # an episode that ends before the reward lands credits the act with nothing of it
    starts[d] = True
    adv = gae_advantages(rewards, np.zeros(d + 4), starts, 0.0, True, gamma, lam)
    assert adv[0] == 0.0
    # value terms: V = c everywhere telescopes to c (gamma - 1) sum (gamma lambda)^k, the same
    # for every act at the same step, so the credit of the reward is unchanged
    starts[d] = False
    flat = gae_advantages(rewards, np.full(d + 4, 2.0), starts, 2.0, False, gamma, lam)
    base = gae_advantages(np.zeros(d + 4), np.full(d + 4, 2.0), starts, 2.0, False, gamma, lam)
    assert flat[0] - base[0] == pytest.approx((gamma * lam) ** d, rel=1e-12)


def test_it_is_stable_baselines3s_recursion() -> None:
    buffers = pytest.importorskip("stable_baselines3.common.buffers")  # deter[experiment]
    import torch
    from gymnasium import spaces

    rng = np.random.default_rng(4)
    n = 64
    rewards, values = rng.normal(size=n), rng.normal(size=n)
    starts = rng.random(n) < 0.2
    buffer = buffers.RolloutBuffer(
        n, spaces.Box(0, 1, (1,)), spaces.Discrete(2), gamma=0.9, gae_lambda=0.8
    )
    for t in range(n):
        buffer.add(
            np.zeros((1, 1)), np.zeros((1, 1)), np.array([rewards[t]]), np.array([starts[t]]),
            torch.tensor([values[t]]), torch.zeros(1),
        )  # fmt: skip
    buffer.compute_returns_and_advantage(torch.tensor([0.7]), np.array([False]))
    ours = gae_advantages(rewards, values, starts, 0.7, False, 0.9, 0.8)
    assert buffer.advantages[:, 0] == pytest.approx(ours, rel=1e-5, abs=1e-5)


def test_the_env_credits_a_shortcut_as_the_ppo_design_says() -> None:
    """Monte Carlo: act at step 0 (tampering or honest work, at random), honest after; GAE
    with V = 0. The difference of the acts' mean advantages is the closed form with
    (gamma lambda rho)^d, and far from the sample-mean learner's (gamma rho)^d."""
    lam = 0.7
    doc = designed(HORIZON)
    env = LongTaskEnv(doc, steps=5, audit_delay=DELAY, retention=RHO, opportunity=1.0)
    honest, tamper = env.compliant, env.action_names.index("test_tampering")
    rng = np.random.default_rng(11)
    by_act: dict[int, list[float]] = {honest: [], tamper: []}
    for episode in range(3000):
        env.reset(seed=episode)
        first = int(rng.choice([honest, tamper]))
        rewards, done, a = [], False, first
        while not done:
            _, reward, terminated, truncated, _ = env.step(a)
            rewards.append(reward)
            done, a = terminated or truncated, honest
        r = np.array(rewards)
        starts = np.zeros(len(r), dtype=bool)
        starts[0] = True
        by_act[first].append(gae_advantages(r, np.zeros(len(r)), starts, 0.0, True, GAMMA, lam)[0])
    means = {a: float(np.mean(v)) for a, v in by_act.items()}
    se = math.sqrt(sum(float(np.var(v, ddof=1)) / len(v) for v in by_act.values()))
    d = doc["designed"]
    pf = d["detection"]["test_tampering"] * doc["penalties"]["test_tampering"]
    p0f = d["false_flag_rate"] * doc["false_positive_penalty"]
    gain = {a["name"]: a["gain"] for a in doc["actions"]}
    lead = gain["test_tampering"] - gain["honest"]

    def closed_form(per_step: float) -> float:
        return lead - (per_step * RHO) ** DELAY * (pf - p0f)

    measured = means[tamper] - means[honest]
    assert abs(measured - closed_form(GAMMA * lam)) < 4 * se
    assert abs(measured - closed_form(GAMMA)) > 8 * se  # the credit is PPO's, not gamma's
    # study.credited_leads says the same (a lead is what the shortcut trails honest work by)
    task = Task(steps=5, audit_delay=DELAY, retention=RHO, opportunity=1.0, discount=GAMMA)
    credited = credited_leads(doc, task, gae_lambda=lam)["test_tampering"]
    assert credited == pytest.approx(-closed_form(GAMMA * lam), rel=1e-9)
    assert credited_leads(doc, task)["test_tampering"] == pytest.approx(0.0, abs=1e-6)  # a tie


def test_run_ppo_trains_the_double_end_to_end() -> None:
    optimal = designed()
    none = with_rates(optimal, dict.fromkeys(optimal["rates"], 0.0), label="none")
    strong = scaled(optimal, 3.0, label="optimal x3")
    rows = run_ppo([none, strong], seeds=2, timesteps=3072, make_model=double)
    by_label = {r.label: r for r in rows}
    # unwatched, the double learns to tamper (gain 4); watched three times over, it works
    assert by_label["none"].metrics["violation_after"][0] == 1.0
    assert by_label["none"].after_actions["test_tampering"] == 1.0
    assert by_label["optimal x3"].metrics["violation_after"][0] == 0.0
    for row in rows:
        assert row.learner_kind == "ppo" and row.seeds == 2
        assert len(row.curve_mean) == 50 and 0.0 <= row.metrics["violation_during"][0] <= 1.0


def test_run_ppo_long_trains_the_double_and_enumerates_the_work_states() -> None:
    task = Task(steps=5, audit_delay=DELAY, retention=RHO, opportunity=0.5, discount=GAMMA)
    optimal = designed(HORIZON)
    none = with_rates(optimal, dict.fromkeys(optimal["rates"], 0.0), label="none")
    run = run_ppo_long(none, task=task, seed=0, timesteps=4096, gae_lambda=0.9, make_model=double)
    assert run["gae_lambda"] == 0.9 and run["timesteps"] == 4096
    assert run["violation_after"] is True and run["shortcut_state_share"] > 0.5
    assert sum(run["final_actions"].values()) == pytest.approx(1.0)
    assert len(run["curve"]) == 100 and run["oversight_cost"] == 0.0
