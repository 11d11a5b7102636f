"""The simulated agents: who they are (the spec's ``[[types]]``) and how they choose.

A rational agent knows the policy and best-responds to it (Becker 1968); the learners see
only their own realised payoffs, rescaled into [0, 1] with the game's known range
(:func:`reward_range`): epsilon-greedy, UCB1 and Exp3, each vectorised over a population of
K independent agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ..engine.verify import TOLERANCE
from ..model.game import Game
from ..model.utility import FloatArray
from ..spec.document import Spec
from ..spec.gains import worst_case_gain

AgentKind = Literal["rational", "epsilon-greedy", "ucb", "exp3"]
AGENT_KINDS: tuple[str, ...] = ("rational", "epsilon-greedy", "ucb", "exp3")
IntArray = NDArray[np.int64]

#: Default exploration rate of epsilon-greedy agents.
DEFAULT_EPSILON = 0.05


@dataclass(frozen=True, eq=False)
class AgentTypes:
    """The spec's ``[[types]]``: each simulated agent is drawn to type k with probability w_k.

    A type's gains are the spec's with the type's overrides, at the ends where deterrence
    binds (``spec_strategy.worst_case_gain``: a deviation's high end, compliance's low end),
    as the solver and its verification take them.
    """

    names: tuple[str, ...]
    weight: FloatArray  # w_k
    gain: FloatArray  # (n_types, n_actions)
    risk_aversion: FloatArray  # r_k

    @classmethod
    def from_spec(cls, spec: Spec) -> AgentTypes | None:
        """The spec's types, or None when it declares none (one kind of agent)."""
        if not spec.types:
            return None
        compliant = spec.compliant_action
        gain = np.array(
            [
                [
                    worst_case_gain(t.gains.get(a.name, a.gain), a.name == compliant)
                    for a in spec.actions
                ]
                for t in spec.types
            ],
            dtype=float,
        )
        return cls(
            names=tuple(t.name for t in spec.types),
            weight=np.array([t.weight for t in spec.types], dtype=float),
            gain=gain,
            risk_aversion=np.array(
                [
                    spec.agent.risk_aversion if t.risk_aversion is None else t.risk_aversion
                    for t in spec.types
                ],
                dtype=float,
            ),
        )


def type_games(game: Game, types: AgentTypes | None) -> list[Game]:
    """The game each type plays (one game when the spec has no types)."""
    if types is None:
        return [game]
    return [game.with_agent(types.gain[k], types.risk_aversion[k]) for k in range(len(types.names))]


class Agent(Protocol):
    """A population of K agents choosing among n actions, one episode at a time."""

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray: ...

    def update(self, actions: IntArray, reward: FloatArray) -> None:
        """Learn from the realised payoff, rescaled into [0, 1]."""


def best_response(game: Game, detection: FloatArray, tolerance: float = TOLERANCE) -> int:
    """The action a rational agent takes: the largest expected utility, ties to compliance.

    EU_i = (1 - P_i) u(g_i) + P_i u(g_i - F_i) (Becker 1968, CARA u). A deviation is taken
    only when it beats compliance by more than the tolerance deter verifies policies with
    (relative to the size of the terms), so a verified policy is never undone by round-off;
    deviations tied within that tolerance go to the first one listed in the spec.
    """
    free, caught = game.utilities()
    eu = (1 - detection) * free + detection * caught
    slack = tolerance * np.maximum(1.0, np.maximum(np.abs(eu), abs(eu[game.compliant])))
    gap = eu - eu[game.compliant]
    gap[game.compliant] = 0.0
    if not np.any(gap > slack):
        return game.compliant
    return int(np.flatnonzero(gap >= gap.max() - slack)[0])


class Rational:
    """Knows the policy and best-responds to it: every agent takes the same action."""

    def __init__(self, population: int, action: int | IntArray) -> None:
        # One action for all, or one per agent (agents of different types).
        self.action = np.broadcast_to(np.asarray(action, dtype=np.int64), (population,)).copy()

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        return self.action

    def update(self, actions: IntArray, reward: FloatArray) -> None:
        return None


class _Averages:
    """Per-agent, per-action counts and sums of rewards."""

    def __init__(self, population: int, n_actions: int) -> None:
        self.rows = np.arange(population)
        self.counts = np.zeros((population, n_actions))
        self.sums = np.zeros((population, n_actions))

    def update(self, actions: IntArray, reward: FloatArray) -> None:
        self.counts[self.rows, actions] += 1
        self.sums[self.rows, actions] += reward

    def means(self) -> FloatArray:
        """Empirical means; an action never tried counts as +inf (every action tried once)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / self.counts, np.inf)


class EpsilonGreedy(_Averages):
    """Epsilon-greedy (Sutton & Barto 2018, sec. 2.2).

    With probability epsilon an agent explores (a uniformly random action), otherwise it
    takes the action with the best average realised payoff so far (untried actions first).
    Its long-run violation rate is at least epsilon (n - 1) / n: it keeps exploring.
    """

    def __init__(self, population: int, n_actions: int, epsilon: float = DEFAULT_EPSILON):
        super().__init__(population, n_actions)
        self.epsilon = epsilon
        self.n_actions = n_actions

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        explore = rng.random(self.rows.shape[0]) < self.epsilon
        random_action = rng.integers(self.n_actions, size=self.rows.shape[0])
        greedy = np.argmax(self.means(), axis=1)
        return np.where(explore, random_action, greedy).astype(np.int64)


class UCB1(_Averages):
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002, Fig. 1): parameter-free.

    Tries each action once, then takes argmax_i mean_i + sqrt(2 ln t / n_i). For rewards in
    [0, 1] (Theorem 1) the expected number of plays of an action with gap Delta_i below the
    best after T episodes is at most 8 ln T / Delta_i^2 + 1 + pi^2 / 3.
    """

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        n_actions = self.counts.shape[1]
        if episode < n_actions:
            return np.full(self.rows.shape[0], episode, dtype=np.int64)
        bonus = np.sqrt(2.0 * math.log(episode) / self.counts)
        return np.argmax(self.sums / self.counts + bonus, axis=1).astype(np.int64)


def exp3_gamma(n_actions: int, episodes: int) -> float:
    """Auer et al. (2002b), Corollary 3.2: gamma = min(1, sqrt(n ln n / ((e - 1) T)))."""
    if n_actions < 2:
        return 1.0
    return min(1.0, math.sqrt(n_actions * math.log(n_actions) / ((math.e - 1) * episodes)))


def exp3_regret_bound(n_actions: int, episodes: int) -> float:
    """Expected regret of Exp3 with the horizon-tuned gamma: 2 sqrt(e - 1) sqrt(T n ln n)."""
    return 2.0 * math.sqrt(math.e - 1) * math.sqrt(episodes * n_actions * math.log(n_actions))


class Exp3:
    """Exp3, the adversarial bandit (Auer, Cesa-Bianchi, Freund & Schapire 2002b, Fig. 1).

    p_i = (1 - gamma) w_i / sum w + gamma / n; after playing i with reward r in [0, 1],
    w_i <- w_i exp(gamma r / (p_i n)). It assumes nothing about how payoffs are generated
    (they may even be chosen by an adversary, such as a learning auditor).
    """

    def __init__(self, population: int, n_actions: int, gamma: float) -> None:
        self.rows = np.arange(population)
        self.log_weights = np.zeros((population, n_actions))
        self.gamma = gamma
        self.n_actions = n_actions
        self.probabilities = np.full((population, n_actions), 1.0 / n_actions)

    def choose(self, rng: np.random.Generator, episode: int) -> IntArray:
        w = np.exp(self.log_weights - self.log_weights.max(axis=1, keepdims=True))
        p = (1 - self.gamma) * w / w.sum(axis=1, keepdims=True) + self.gamma / self.n_actions
        self.probabilities = p
        u = rng.random(self.rows.shape[0])
        chosen = (u[:, None] >= np.cumsum(p, axis=1)).sum(axis=1)
        return np.minimum(chosen, self.n_actions - 1).astype(np.int64)

    def update(self, actions: IntArray, reward: FloatArray) -> None:
        played = self.probabilities[self.rows, actions]
        self.log_weights[self.rows, actions] += self.gamma * reward / (played * self.n_actions)


@dataclass(frozen=True)
class AgentConfig:
    """Which agents to simulate and their parameters (None: the documented default)."""

    kind: AgentKind = "rational"
    epsilon: float = DEFAULT_EPSILON  # epsilon-greedy
    gamma: float | None = None  # exp3; default exp3_gamma(n, episodes)

    def build(self, game: Game, population: int, episodes: int, detection: FloatArray) -> Agent:
        n = game.n_actions
        if self.kind == "rational":
            return Rational(population, best_response(game, detection))
        if self.kind == "epsilon-greedy":
            return EpsilonGreedy(population, n, self.epsilon)
        if self.kind == "ucb":
            return UCB1(population, n)
        if self.kind == "exp3":
            gamma = self.gamma if self.gamma is not None else exp3_gamma(n, episodes)
            return Exp3(population, n, gamma)
        raise ValueError(f"unknown agent {self.kind!r}; choose one of {', '.join(AGENT_KINDS)}")

    def parameters(self, n_actions: int, episodes: int) -> dict[str, float]:
        if self.kind == "epsilon-greedy":
            return {"epsilon": self.epsilon}
        if self.kind == "exp3":
            gamma = self.gamma if self.gamma is not None else exp3_gamma(n_actions, episodes)
            return {"gamma": gamma}
        return {}


def reward_range(game: Game) -> tuple[float, float]:
    """The known range of realised utilities: [min_i u(g_i - F_i), max_i u(g_i)].

    Learners' payoffs are rescaled into [0, 1] with it, as UCB1 and Exp3 assume.
    """
    free, caught = game.utilities()
    return float(min(free.min(), caught.min())), float(max(free.max(), caught.max()))
