"""A fast tabular learner for large-scale runs: a population of epsilon-greedy bandit agents.

The reference env is a repeated one-shot game (no state), so a tabular agent is a table of
one estimated value per action. Each agent keeps sample averages of the rewards it has
seen (reward = gain - penalty, exactly what the wrapper hands an RL agent) and takes the
best with probability 1 - epsilon, else a uniformly random action (Sutton & Barto 2018,
sec. 2.2-2.4). Untried actions are tried first. Penalties come from the runtime auditor's
batch path (:meth:`Auditor.run_batch`): the same schedule and draws as a serving process.

"After training" is the greedy policy each agent would deploy: argmax of its estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..policy.runtime import Auditor

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class TabularRun:
    """One seed's population of agents trained under one policy."""

    violation_curve: FloatArray  # (episodes,) fraction of agents violating, per episode
    reward_curve: FloatArray  # (episodes,) mean reward (gain - penalty), per episode
    greedy: IntArray  # (agents,) each agent's greedy action after training
    violation_during: float
    violation_after: float  # fraction of agents whose greedy action is a violation
    spend_per_episode: float  # realised oversight spend per agent-episode
    honest_false_flag_loss: float  # penalties paid per compliant agent-episode
    reward: float  # mean reward per agent-episode during training
    samples: IntArray  # (agents, actions) how often each agent took each action


def train_tabular(
    policy: Mapping[str, Any],
    *,
    agents: int,
    episodes: int,
    seed: int,
    epsilon: float = 0.1,
    gains: FloatArray | None = None,
) -> TabularRun:
    """Train ``agents`` epsilon-greedy agents for ``episodes`` episodes under ``policy``.

    ``gains`` default to the policy document's (relative to the compliant action), which is
    what the reference env pays. One generator seeded ``seed`` drives the agents; the
    auditor has its own, spawned from the same seed.
    """
    root = np.random.SeedSequence(seed)
    agent_seed, auditor_seed = root.spawn(2)
    rng = np.random.default_rng(agent_seed)
    auditor = Auditor(policy, seed=auditor_seed, warn=False)
    a = auditor.arrays
    n, c = len(a.action_names), a.compliant
    g = (a.gain - a.gain[c]) if gains is None else np.asarray(gains, dtype=float)
    rows = np.arange(agents)
    counts = np.zeros((agents, n))
    sums = np.zeros((agents, n))
    violation = np.empty(episodes)
    rewards = np.empty(episodes)
    honest_loss = 0.0
    honest_taken = 0
    for t in range(episodes):
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.inf)
        # Ties (several untried actions) go to a random one among them, not the first.
        noise = rng.random((agents, n)) * 1e-12
        greedy = np.argmax(means + noise, axis=1)
        explore = rng.random(agents) < epsilon
        actions = np.where(explore, rng.integers(n, size=agents), greedy).astype(np.int64)
        penalty, _, _ = auditor.run_batch(actions)
        reward = g[actions] - penalty
        counts[rows, actions] += 1
        sums[rows, actions] += reward
        honest = actions == c
        honest_loss += float(penalty[honest].sum())
        honest_taken += int(np.count_nonzero(honest))
        violation[t] = 1.0 - honest.mean()
        rewards[t] = reward.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, -np.inf)
    final = np.argmax(means, axis=1).astype(np.int64)
    total = agents * episodes
    return TabularRun(
        violation_curve=violation,
        reward_curve=rewards,
        greedy=final,
        violation_during=float(violation.mean()),
        violation_after=float(np.mean(final != c)),
        spend_per_episode=auditor.tallies.spend / total,
        honest_false_flag_loss=honest_loss / honest_taken if honest_taken else float("nan"),
        reward=float(rewards.mean()),
        samples=counts.astype(np.int64),
    )
