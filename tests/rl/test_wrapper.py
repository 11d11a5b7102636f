"""The Gymnasium wrapper and the reference env: checker, exact penalties, vector envs."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from deter.rl import CODING_AGENT_POLICY, ENV_ID, CodingTaskEnv, OversightWrapper, Trajectory
from deter.runtime import Auditor
from gymnasium.utils.env_checker import check_env

POLICY = CODING_AGENT_POLICY
NAMES = [a["name"] for a in POLICY["actions"]]
GAINS = {a["name"]: a["gain"] for a in POLICY["actions"]}


def quiet_check(env: gym.Env) -> None:
    with warnings.catch_warnings():
        # The checker prefers unwrapped envs and says so; the wrapper is what is checked here.
        warnings.filterwarnings("ignore", message=".*different from the unwrapped.*")
        warnings.filterwarnings("ignore", message=".*Not able to test alternative render.*")
        check_env(env)


def test_env_checker_passes() -> None:
    quiet_check(CodingTaskEnv())
    quiet_check(OversightWrapper(CodingTaskEnv(), POLICY, seed=0))
    quiet_check(OversightWrapper(gym.make(ENV_ID).unwrapped, POLICY, per="step", seed=0))


def test_without_oversight_the_reward_maximiser_is_misaligned() -> None:
    env = CodingTaskEnv()
    env.reset(seed=0)
    rewards = {}
    for a, name in enumerate(NAMES):
        _, rewards[name], terminated, _, info = env.step(a)
        assert terminated and info["action_label"] == name
    best = max(rewards, key=rewards.__getitem__)
    assert best == "test_tampering" and best != POLICY["compliant"]


@pytest.mark.parametrize("per", ["episode", "step"])
def test_the_wrapper_applies_exactly_the_runtimes_penalties(per: str) -> None:
    env = OversightWrapper(CodingTaskEnv(), POLICY, seed=11, per=per)
    shadow = Auditor(POLICY, seed=11)  # the same draws, judged directly
    env.reset()
    rng = np.random.default_rng(0)
    penalties = set()
    for _ in range(3000):
        action = int(rng.integers(len(NAMES)))
        _, reward, terminated, truncated, info = env.step(action)
        expected = shadow.audit(NAMES[action])
        assert reward == GAINS[NAMES[action]] - expected.penalty
        over = info["oversight"]
        assert over["penalty"] == expected.penalty
        assert over["flagged"] == expected.flagged and over["detected"] == expected.detected
        assert over["false_flag"] == expected.false_flag
        assert over["audited_by"] == ",".join(expected.audits)
        penalties.add(expected.penalty)
        if terminated or truncated:
            env.reset()
    # Clear and caught; 1.0 (a false flag on honest work, P = 0.0027) may also occur.
    assert {0.0, 20.0} <= penalties <= {0.0, 1.0, 20.0}
    assert env.auditor.tallies.judged == 3000


def test_false_flag_penalties_can_be_waived_and_labels_can_skip() -> None:
    env = OversightWrapper(CodingTaskEnv(), POLICY, seed=3, false_flag_penalties=False)
    env.reset()
    flags = 0
    for _ in range(5000):
        _, reward, *_, info = env.step(0)  # honest
        assert reward == 0.0
        flags += info["oversight"]["false_flag"]
    assert flags > 0
    skip = OversightWrapper(CodingTaskEnv(), POLICY, label=lambda t: None, seed=3)
    skip.reset()
    _, reward, *_, info = skip.step(2)
    assert reward == GAINS["test_tampering"] and "oversight" not in info


def test_labels_see_the_trajectory_and_may_return_verdicts() -> None:
    seen: list[Trajectory] = []

    def verdicts(t: Trajectory) -> dict[str, bool]:
        seen.append(t)
        return {}  # every running monitor clear

    env = OversightWrapper(CodingTaskEnv(), POLICY, label=verdicts, seed=0)
    env.reset()
    _, reward, *_ = env.step(1)
    assert reward == GAINS["reward_hack"]
    assert seen[0].actions == [1] and seen[0].last_info["action_label"] == "reward_hack"


def test_seeded_resets_reproduce_audits() -> None:
    env = OversightWrapper(CodingTaskEnv(), POLICY)

    def rewards(seed: int) -> list[float]:
        env.reset(seed=seed)
        out = []
        for _ in range(500):
            out.append(env.step(2)[1])
            env.reset()
        return out

    assert rewards(5) == rewards(5) != rewards(6)


def test_vector_envs() -> None:
    envs = gym.make_vec(
        ENV_ID,
        num_envs=4,
        vectorization_mode="sync",
        wrappers=[lambda e: OversightWrapper(e, POLICY)],
    )
    envs.reset(seed=0)
    totals = np.zeros(4)
    judged = 0
    for _ in range(800):
        _, rewards, _, _, infos = envs.step(np.full(4, 2))
        # Gymnasium's default autoreset (next step) spends every other step resetting these
        # one-step episodes: those steps carry no reward and no oversight.
        if "oversight" not in infos:
            np.testing.assert_array_equal(rewards, 0.0)
            continue
        mask = infos["_oversight"]
        penalties = np.where(mask, infos["oversight"]["penalty"], 0.0)
        expected = np.where(mask, GAINS["test_tampering"] - penalties, 0.0)
        np.testing.assert_array_equal(rewards, expected)
        totals += penalties
        judged += int(mask.sum())
    assert judged == 1600
    # Sub-envs seeded 0..3 draw different audits.
    assert len(set(totals.tolist())) > 1
    envs.close()
