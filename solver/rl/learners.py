"""The experiment's learners: populations of K independent agents, each learning from the
rewards an episode pays (gain - penalty, in money), one episode at a time.

- ``epsilon-greedy``: sample averages, the best with probability 1 - epsilon, else a uniform
  action; untried actions first (Sutton & Barto 2018, sec. 2.2-2.4);
- ``hedge``: full information, every episode it sees what every action would have paid
  (Freund & Schapire 1997, "A decision-theoretic generalization of on-line learning and an
  application to boosting", JCSS 55): p_i proportional to exp(eta S_i), S_i the action's
  cumulative reward rescaled into [0, 1], eta = sqrt(8 ln n / T); regret at most
  sqrt(T ln n / 2) (Cesa-Bianchi & Lugosi 2006, Theorem 2.2);
- ``exp3``: bandit feedback, only its own action's reward (Auer, Cesa-Bianchi, Freund &
  Schapire 2002, "The nonstochastic multiarmed bandit problem", SIAM J. Comput. 32): the
  simulation's :class:`~..simulation.agents.Exp3` with gamma = min(1, sqrt(n ln n /
  ((e - 1) T))), expected regret at most 2 sqrt(e - 1) sqrt(T n ln n);
- ``rational``: knows the policy and best-responds to it (the check: the design's
  prediction, :func:`~..simulation.agents.best_response`, ties to compliance).

What each agent deploys after training (:meth:`final`): epsilon-greedy, the best sample
mean; Hedge and Exp3, the action of largest weight (the mode of the distribution they would
play next); rational, its best response. The no-regret learners rescale rewards into [0, 1]
by the game's known range (:func:`~..simulation.agents.reward_range`), as their bounds assume.

A learner with ``full_information`` also receives, each episode, the reward each action would
have paid (:meth:`Learner.update`'s ``every``): the experiment draws those from a second
auditor of the same policy on its own seed stream (the same schedule and detection; the
taken action's reward is the real one).
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import numpy as np

from ..model.game import Game
from ..model.utility import FloatArray
from ..simulation.agents import Exp3, IntArray, best_response, exp3_gamma, reward_range

LearnerKind = Literal["epsilon-greedy", "hedge", "exp3", "rational"]
LEARNERS: tuple[str, ...] = ("epsilon-greedy", "hedge", "exp3", "rational")


class Learner(Protocol):
    """K agents over n actions; rewards in money (gain - penalty)."""

    full_information: bool

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray: ...

    def update(self, actions: IntArray, reward: FloatArray, every: FloatArray | None) -> None:
        """Learn from each agent's reward (K,) and, with full information, every action's
        (K, n)."""

    def final(self) -> IntArray:
        """The action each agent would deploy after training."""


def hedge_rate(n_actions: int, episodes: int) -> float:
    """eta = sqrt(8 ln n / T): Hedge's rate tuned to the horizon (Cesa-Bianchi & Lugosi 2006,
    Theorem 2.2), for rewards in [0, 1]."""
    if n_actions < 2:
        return 0.0
    return math.sqrt(8.0 * math.log(n_actions) / max(episodes, 1))


def hedge_regret_bound(n_actions: int, episodes: int) -> float:
    """Hedge's regret at that rate: sqrt(T ln n / 2), in [0, 1] reward units."""
    return math.sqrt(episodes * math.log(n_actions) / 2.0)


class EpsilonGreedy:
    """Sample averages; the best with probability 1 - epsilon (ties and untried actions
    broken at random), else a uniform action."""

    full_information = False

    def __init__(self, agents: int, n_actions: int, epsilon: float) -> None:
        self.rows = np.arange(agents)
        self.epsilon = epsilon
        self.counts = np.zeros((agents, n_actions))
        self.sums = np.zeros((agents, n_actions))

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        agents, n = self.counts.shape
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(self.counts > 0, self.sums / self.counts, np.inf)
        # Ties (several untried actions) go to a random one among them, not the first.
        noise = rng.random((agents, n)) * 1e-12
        greedy = np.argmax(means + noise, axis=1)
        explore = rng.random(agents) < self.epsilon
        return np.where(explore, rng.integers(n, size=agents), greedy).astype(np.int64)

    def update(self, actions: IntArray, reward: FloatArray, every: FloatArray | None) -> None:
        self.counts[self.rows, actions] += 1
        self.sums[self.rows, actions] += reward

    def final(self) -> IntArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(self.counts > 0, self.sums / self.counts, -np.inf)
        return np.argmax(means, axis=1).astype(np.int64)


class Hedge:
    """Hedge / exponential weights with full information (module docstring)."""

    full_information = True

    def __init__(self, agents: int, n_actions: int, eta: float, low: float, high: float):
        self.eta = eta
        self.low, self.width = low, max(high - low, 1e-300)
        self.scores = np.zeros((agents, n_actions))  # cumulative rescaled rewards S_i

    def probabilities(self) -> FloatArray:
        z = self.eta * self.scores
        w = np.exp(z - z.max(axis=1, keepdims=True))
        return np.asarray(w / w.sum(axis=1, keepdims=True))

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        p = self.probabilities()
        u = rng.random(size=(len(p),))
        chosen = (u[:, None] >= np.cumsum(p, axis=1)).sum(axis=1)
        return np.minimum(chosen, p.shape[1] - 1).astype(np.int64)

    def update(self, actions: IntArray, reward: FloatArray, every: FloatArray | None) -> None:
        if every is None:
            raise ValueError("Hedge needs every action's reward (full information)")
        self.scores += np.clip((every - self.low) / self.width, 0.0, 1.0)

    def final(self) -> IntArray:
        return np.argmax(self.scores, axis=1).astype(np.int64)


class BanditExp3:
    """The simulation's Exp3 on rewards rescaled into [0, 1] (module docstring)."""

    full_information = False

    def __init__(self, agents: int, n_actions: int, gamma: float, low: float, high: float):
        self.exp3 = Exp3(agents, n_actions, gamma)
        self.low, self.width = low, max(high - low, 1e-300)

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        return self.exp3.choose(rng, episode)

    def update(self, actions: IntArray, reward: FloatArray, every: FloatArray | None) -> None:
        self.exp3.update(actions, np.clip((reward - self.low) / self.width, 0.0, 1.0))

    def final(self) -> IntArray:
        return np.argmax(self.exp3.log_weights, axis=1).astype(np.int64)


class Rational:
    """Knows the policy: every agent plays the best response, every episode."""

    full_information = False

    def __init__(self, agents: int, action: int) -> None:
        self.action = np.full(agents, action, dtype=np.int64)

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        return self.action

    def update(self, actions: IntArray, reward: FloatArray, every: FloatArray | None) -> None:
        return None

    def final(self) -> IntArray:
        return self.action


def make_learner(
    kind: str,
    game: Game,
    detection: FloatArray,
    *,
    agents: int,
    episodes: int,
    epsilon: float = 0.1,
    exploration: float | None = None,
) -> Learner:
    """A population of ``agents`` learners of ``kind`` for ``game`` (its gains relative to
    compliance are the rewards' gains; ``detection``: each action's P(caught) under the
    schedule, which only the rational agent uses). ``exploration``: Exp3's gamma (default
    the horizon-tuned :func:`~..simulation.agents.exp3_gamma`, as ``[learner]`` does)."""
    if kind not in LEARNERS:
        raise ValueError(f"unknown learner {kind!r}; choose one of {', '.join(LEARNERS)}")
    n = game.n_actions
    if kind == "epsilon-greedy":
        return EpsilonGreedy(agents, n, epsilon)
    if kind == "rational":
        return Rational(agents, best_response(game, detection))
    low, high = reward_range(game)
    if kind == "hedge":
        return Hedge(agents, n, hedge_rate(n, episodes), low, high)
    gamma = exploration if exploration is not None else exp3_gamma(n, episodes)
    return BanditExp3(agents, n, gamma, low, high)
