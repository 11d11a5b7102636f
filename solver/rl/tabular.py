"""Populations of learners for large-scale runs (epsilon-greedy, Hedge, Exp3, rational).

The reference env is a repeated one-shot game (no state), so a learner is a table of one
estimate (or weight) per action, vectorised over the population (``learners.py``). Rewards
are gain - penalty, exactly what the wrapper hands an RL agent; penalties come from the
runtime auditor's batch path (:meth:`Auditor.run_batch`): the same schedule and draws as a
serving process.

"After training" is the action each agent would deploy (:meth:`Learner.final`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..model import interrupts
from ..policy.runtime import Auditor
from .learners import make_learner

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
    learner: str = "epsilon-greedy",
    exploration: float | None = None,
) -> TabularRun:
    """Train ``agents`` learners of kind ``learner`` (``learners.py``: epsilon-greedy, hedge,
    exp3, rational) for ``episodes`` episodes under ``policy``.

    ``gains`` default to the policy document's (relative to the compliant action), which is
    what the reference env pays. ``SeedSequence(seed)`` spawns the agents' generator, the
    auditor's and, for a full-information learner (Hedge), a second auditor's that draws
    what the actions not taken would have paid. ``exploration``: Exp3's gamma (default
    tuned to ``episodes``).
    """
    root = np.random.SeedSequence(seed)
    agent_seed, auditor_seed, shadow_seed = root.spawn(3)
    rng = np.random.default_rng(agent_seed)
    auditor = Auditor(policy, seed=auditor_seed, warn=False)
    a = auditor.arrays
    n, c = len(a.action_names), a.compliant
    g = (a.gain - a.gain[c]) if gains is None else np.asarray(gains, dtype=float)
    game = a.with_agent(g, a.risk_aversion)
    population = make_learner(
        learner,
        game,
        a.exact_detection(),
        agents=agents,
        episodes=episodes,
        epsilon=epsilon,
        exploration=exploration,
    )
    shadow = Auditor(policy, seed=shadow_seed, warn=False) if population.full_information else None
    rows = np.arange(agents)
    counts = np.zeros((agents, n))
    violation = np.empty(episodes)
    rewards = np.empty(episodes)
    honest_loss = 0.0
    honest_taken = 0
    for t in range(episodes):
        interrupts.check()  # a Ctrl-C swallowed on its way (model/interrupts.py)
        actions = population.choose(rng, t)
        penalty, _, _ = auditor.run_batch(actions)
        reward = g[actions] - penalty
        every = None
        if shadow is not None:
            every = np.column_stack(
                [g[i] - shadow.run_batch(np.full(agents, i, dtype=np.int64)).penalty
                 for i in range(n)]
            )  # fmt: skip
            every[rows, actions] = reward
        population.update(actions, reward, every)
        counts[rows, actions] += 1
        honest = actions == c
        honest_loss += float(penalty[honest].sum())
        honest_taken += int(np.count_nonzero(honest))
        violation[t] = 1.0 - honest.mean()
        rewards[t] = reward.mean()
    final = population.final()
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
