"""Simulating agents under an oversight policy: does the designed deterrence hold in data?

The solver predicts what a rational offender does (Becker 1968); this module plays the
game episode by episode, for a population of K independent agents at once, and measures
what the agents actually do.

One episode, for every agent k at once (vectorised over k and over the monitors j):

1. agent k picks an action a_k (its own rule: see the agent classes below);
2. each monitor j inspects the episode with probability x_j (its rate);
3. an inspection by monitor j catches action a_k with probability q_{a_k j}, or, when a_k is
   the compliant action, flags it falsely with probability f_j;
4. a caught agent pays the action's penalty (its cap F_i: Becker's maximal-penalty
   principle), a falsely flagged one the false-positive penalty F_fp. Its payoff in money is
   g_a - F_a 1{caught}; learners see only that realised payoff (as CARA utility u).

Inspection schedules. The model's detection is linear, P_i(x) = min(1, sum_j q_ij x_j): the
catches of different monitors never overlap. That is exactly true when the principal
coordinates the monitors so that they inspect disjoint episodes, which is possible whenever
sum_j x_j <= 1. ``coordinated`` (the default) does this by systematic sampling: one uniform
U per episode, monitor j inspects when (U - s_{j-1}) mod 1 < x_j, with s_j = x_1 + ... + x_j;
each monitor still inspects a fraction x_j of episodes, and above a total rate of 1 the
overlap is the least possible. ``independent`` lets every monitor toss its own coin, so
P_i = 1 - prod_j (1 - q_ij x_j) <= sum_j q_ij x_j: the linear model then over-states
detection, and a simulation shows by how much. :func:`schedule_detection` gives the exact
detection probability of either schedule, and the rational agent best-responds to it.

Every random draw comes from one ``numpy.random.Generator`` seeded with ``seed``, in a fixed
order, so a run is reproducible bit for bit. Several policies are each simulated with a
fresh generator from the same seed (common random numbers: policies are compared on the
same luck).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ..engine.verify import TOLERANCE
from ..model.arrays import ProblemArrays
from ..model.utility import FloatArray, utility
from ..results.serialise import dumps, jsonable
from ..spec.document import Spec
from ..spec.gains import worst_case_gain

Schedule = Literal["coordinated", "independent"]
AgentKind = Literal["rational", "epsilon-greedy", "ucb", "exp3"]
AGENT_KINDS: tuple[str, ...] = ("rational", "epsilon-greedy", "ucb", "exp3")
SCHEDULES: tuple[str, ...] = ("coordinated", "independent")
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: The final window is the last tenth of the episodes (at least one episode).
FINAL_WINDOW = 0.1
#: Two-sided 95% normal quantile, for the confidence intervals reported.
Z95 = 1.959963984540054
#: Default exploration rate of epsilon-greedy agents.
DEFAULT_EPSILON = 0.05

#: The largest simulation deter runs (docs/security.md): a count typed on the command line
#: must not ask for gigabytes or hours. Episodes bound the learning curve (8 bytes each);
#: the population, times the actions, bounds each learner's tables; agent-episodes (per
#: policy) bound the time, at several million a second.
MAX_EPISODES = 1_000_000
MAX_POPULATION = 1_000_000
MAX_AGENT_EPISODES = 1_000_000_000
MAX_AGENT_ACTIONS = 20_000_000


def check_size(episodes: int, population: int, n_actions: int = 1) -> None:
    """Refuse a simulation over the limits, with a ValueError that names the limit."""
    if episodes < 1 or population < 1:
        raise ValueError("episodes and population must be at least 1")
    if episodes > MAX_EPISODES:
        raise ValueError(f"{episodes:,} episodes is over the limit of {MAX_EPISODES:,}")
    if population > MAX_POPULATION:
        raise ValueError(f"a population of {population:,} is over the limit of {MAX_POPULATION:,}")
    if episodes * population > MAX_AGENT_EPISODES:
        raise ValueError(
            f"{episodes:,} episodes x {population:,} agents is over the limit of "
            f"{MAX_AGENT_EPISODES:,} agent-episodes per policy"
        )
    if population * n_actions > MAX_AGENT_ACTIONS:
        raise ValueError(
            f"{population:,} agents x {n_actions:,} actions is over the limit of "
            f"{MAX_AGENT_ACTIONS:,} (use a smaller --population)"
        )


# --- the game one policy sets ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Game:
    """One policy's episode game as arrays: i over actions, j over monitors.

    ``catch[i, j]`` is q_ij for a non-compliant action and f_j (false flags) for the
    compliant row; ``penalty[i]`` is F_i, and F_fp for the compliant action.
    """

    action_names: tuple[str, ...]
    monitor_names: tuple[str, ...]
    compliant: int
    gain: FloatArray  # g_i, money
    penalty: FloatArray  # F_i (compliant: F_fp)
    catch: FloatArray  # (n_actions, n_monitors)
    rates: FloatArray  # x_j
    cost: FloatArray  # c_j, per inspected episode
    risk_aversion: float

    @classmethod
    def from_arrays(
        cls, arrays: ProblemArrays, rates: FloatArray, penalties: FloatArray | None = None
    ) -> Game:
        """The game of ``rates``; ``penalties`` per action (default: the caps and F_fp)."""
        if getattr(arrays, "roc", ()):
            raise ValueError("simulating monitors described by ROC curves is not supported yet")
        catch = np.asarray(arrays.detection.toarray(), dtype=float)
        catch[arrays.compliant] = arrays.false_positive
        if penalties is None:
            penalty = arrays.penalty_cap.copy()
            penalty[arrays.compliant] = arrays.false_positive_penalty
        else:
            penalty = np.asarray(penalties, dtype=float).copy()
        return cls(
            action_names=arrays.action_names,
            monitor_names=arrays.monitor_names,
            compliant=arrays.compliant,
            gain=arrays.gain.copy(),
            penalty=penalty,
            catch=catch,
            rates=np.clip(np.asarray(rates, dtype=float), 0.0, 1.0),
            cost=arrays.cost.copy(),
            risk_aversion=arrays.risk_aversion,
        )

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def n_monitors(self) -> int:
        return len(self.monitor_names)

    @property
    def starts(self) -> FloatArray:
        """s_{j-1}: where monitor j's stretch begins on the coordinated schedule's circle."""
        return np.asarray((np.cumsum(self.rates) - self.rates) % 1.0)

    def for_type(self, types: AgentTypes, k: int) -> Game:
        """The same game played by an agent of type k (its gains and risk aversion)."""
        return replace(self, gain=types.gain[k].copy(), risk_aversion=float(types.risk_aversion[k]))

    def utilities(self) -> tuple[FloatArray, FloatArray]:
        """u(g_i - g_0) and u(g_i - g_0 - F_i): an action's utility when free and when caught.

        Wealth is relative to the compliant gain, as everywhere in deter (the comparisons
        of CARA utilities are unchanged by that shift, up to a positive factor).
        """
        relative = self.gain - self.gain[self.compliant]
        r = self.risk_aversion
        return utility(relative, r), utility(relative - self.penalty, r)


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


def schedule_detection(game: Game, schedule: Schedule) -> FloatArray:
    """The exact P(caught) of every action under ``schedule`` (compliant: P(false flag)).

    independent: 1 - prod_j (1 - q_ij x_j).
    coordinated: the set of monitors inspecting an episode depends only on U, and changes
    only where U crosses some s_j mod 1, so the probability is a finite sum over those
    stretches of length * (1 - prod_{j inspecting} (1 - q_ij)). When sum_j x_j <= 1 at most
    one monitor inspects each episode and this is sum_j q_ij x_j, the model's P_i.
    """
    q, x = game.catch, game.rates
    if game.n_monitors == 0:
        return np.zeros(game.n_actions)
    if schedule == "independent":
        return np.asarray(1.0 - np.prod(1.0 - q * x[None, :], axis=1))
    starts = game.starts
    cuts = np.unique(np.concatenate(([0.0, 1.0], starts, (starts + x) % 1.0)))
    lengths = np.diff(cuts)
    middles = cuts[:-1] + lengths / 2
    inspecting = ((middles[:, None] - starts[None, :]) % 1.0) < x[None, :]  # (S, M)
    escape = np.prod(np.where(inspecting[:, None, :], 1.0 - q[None, :, :], 1.0), axis=2)
    return np.asarray(np.clip(1.0 - lengths @ escape, 0.0, 1.0))


def draw_inspections(
    rng: np.random.Generator, game: Game, schedule: Schedule, actions: IntArray
) -> tuple[BoolArray, BoolArray]:
    """(inspected, caught), each (M, K): which monitors inspected and caught each agent.

    Draws one uniform per agent for the schedule (coordinated) or one per monitor and agent
    (independent), then one per monitor and agent for the catch. Monitor-major arrays keep
    the reductions over monitors contiguous (fast).
    """
    k, m = actions.shape[0], game.n_monitors
    x = game.rates[:, None]
    if schedule == "coordinated":
        offset = rng.random((1, k)) - game.starts[:, None]  # in (-1, 1)
        offset += offset < 0  # (U - s_{j-1}) mod 1, without a slow float modulo
        inspected = offset < x
    else:
        inspected = rng.random((m, k)) < x
    caught = inspected & (rng.random((m, k)) < game.catch.T[:, actions])
    return inspected, caught


# --- agents ------------------------------------------------------------------------------


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


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% confidence interval."""

    mean: float
    low: float
    high: float

    @classmethod
    def across(cls, values: FloatArray) -> Estimate:
        """Mean of per-agent values, normal CI across the population (agents independent)."""
        mean = float(np.mean(values))
        if values.size < 2:
            return cls(mean, math.nan, math.nan)
        half = Z95 * float(np.std(values, ddof=1)) / math.sqrt(values.size)
        return cls(mean, mean - half, mean + half)

    @classmethod
    def proportion(cls, successes: int, trials: int) -> Estimate:
        """A pooled frequency with its Wilson score interval (sound near 0 and 1)."""
        if trials == 0:
            return cls(math.nan, math.nan, math.nan)
        p = successes / trials
        z2 = Z95 * Z95
        centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
        half = (
            Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
        )
        return cls(p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ActionStats:
    name: str
    compliant: bool
    rate: Estimate  # fraction of episodes the agents take it, CI across the population
    taken: int  # agent-episodes, pooled
    caught: int  # of those, caught (compliant: falsely flagged)
    detection: Estimate  # caught / taken, Wilson CI
    model_detection: float  # the solver's P_i(x) (compliant: P_0)
    schedule_detection: float  # the exact P(caught) under the simulated schedule
    z: float | None  # (detection - schedule_detection) / binomial SE; None if never taken


@dataclass(frozen=True)
class MonitorStats:
    name: str
    rate: float
    inspection_rate: float  # realised fraction of agent-episodes inspected
    catches: int  # agent-episodes in which it caught (or flagged) the agent


@dataclass(frozen=True)
class TypeStats:
    """One agent type ([[types]]): what the model predicts for it and what its agents did."""

    name: str
    weight: float  # w_k, the probability an agent is of this type
    agents: int  # agents of the simulated population drawn to it
    induced_action: str  # its rational best response under the model's detection
    schedule_induced_action: str  # ... under the schedule's exact detection
    violation_rate: Estimate  # across its agents (NaN when none was drawn)


@dataclass(frozen=True)
class Prediction:
    """What the model says the policy does, to set beside the simulation."""

    # The rational best response under the model's detection; with [[types]] whose
    # responses differ, 'type: action' for each type.
    induced_action: str
    deterred: bool  # the induced action is the compliant one (for every type)
    schedule_induced_action: str  # the best response under the schedule's exact detection
    oversight_cost_per_episode: float  # sum_j c_j x_j
    # 0 when deterred, else 1 (a rational agent does not mix); with [[types]], the total
    # weight of the types that deviate.
    violation_rate: float


@dataclass(frozen=True)
class PolicyRun:
    label: str
    scale: float
    rates: dict[str, float]
    prediction: Prediction
    violation_rate: Estimate
    final_violation_rate: Estimate
    detections_per_episode: Estimate
    false_flags_per_episode: Estimate
    oversight_cost_per_episode: Estimate
    mean_payoff: Estimate
    actions: tuple[ActionStats, ...]
    monitors: tuple[MonitorStats, ...]
    curve: FloatArray = field(repr=False)  # violation rate of the population, per episode
    warnings: tuple[str, ...] = ()
    types: tuple[TypeStats, ...] = ()  # per type, when the spec has [[types]]

    def to_dict(self, curve_points: int = 200) -> dict[str, Any]:
        doc: dict[str, Any] = {"label": self.label, "scale": self.scale, "rates": self.rates}
        for key in (
            "violation_rate",
            "final_violation_rate",
            "detections_per_episode",
            "false_flags_per_episode",
            "oversight_cost_per_episode",
            "mean_payoff",
        ):
            estimate: Estimate = getattr(self, key)
            doc[key] = estimate.mean
            doc[f"{key}_ci"] = [estimate.low, estimate.high]
        doc["prediction"] = _plain(self.prediction)
        doc["actions"] = [
            {
                **_plain(a),
                "rate": a.rate.mean,
                "rate_ci": [a.rate.low, a.rate.high],
                "detection": a.detection.mean,
                "detection_ci": [a.detection.low, a.detection.high],
            }
            for a in self.actions
        ]
        doc["monitors"] = [_plain(m) for m in self.monitors]
        ends, values = downsample(self.curve, curve_points)
        doc["curve"] = {"episode": ends.tolist(), "violation_rate": values.tolist()}
        doc["warnings"] = list(self.warnings)
        doc["types"] = [
            {
                **_plain(t),
                "violation_rate": t.violation_rate.mean,
                "violation_rate_ci": [t.violation_rate.low, t.violation_rate.high],
            }
            for t in self.types
        ]
        return doc


@dataclass(frozen=True)
class Simulation:
    name: str
    file: str
    agent: str
    parameters: dict[str, float]
    episodes: int
    population: int
    seed: int
    schedule: str
    runs: tuple[PolicyRun, ...]
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self, curve_points: int = 200, *, timing: bool = True) -> dict[str, Any]:
        """The JSON document of ``deter simulate --format json``.

        ``curve_points`` buckets the violation curve; ``timing=False`` drops the one
        non-deterministic key, ``timing`` (the same seed gives the same document).
        """
        doc = jsonable(
            {
                "schema_version": 1,
                "kind": "simulation",
                "name": self.name,
                "file": self.file,
                "agent": self.agent,
                "parameters": self.parameters,
                "episodes": self.episodes,
                "population": self.population,
                "seed": self.seed,
                "schedule": self.schedule,
                "final_window": FINAL_WINDOW,
                "policies": [run.to_dict(curve_points) for run in self.runs],
                "timing": {"seconds": self.seconds},
            }
        )
        if not timing:
            del doc["timing"]
        return doc

    def to_json(self, curve_points: int = 200, *, timing: bool = True) -> str:
        """``to_dict()`` as the JSON text ``deter simulate --format json`` prints."""
        return dumps(self.to_dict(curve_points, timing=timing), indent=2) + "\n"


def _plain(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if not isinstance(v, Estimate)}


def downsample(curve: FloatArray, points: int) -> tuple[IntArray, FloatArray]:
    """Bucket means of a per-episode curve: (last episode of each bucket, 1-based; mean)."""
    t = curve.shape[0]
    buckets = max(1, min(points, t))
    edges = np.linspace(0, t, buckets + 1).round().astype(np.int64)
    sums = np.add.reduceat(curve, edges[:-1])
    return edges[1:], sums / np.diff(edges)


# --- the simulation ----------------------------------------------------------------------


def type_games(game: Game, types: AgentTypes | None) -> list[Game]:
    """The game each type plays (one game when the spec has no types)."""
    if types is None:
        return [game]
    return [game.for_type(types, k) for k in range(len(types.names))]


def responses(
    arrays: ProblemArrays, game: Game, schedule: Schedule, types: AgentTypes | None
) -> tuple[IntArray, IntArray]:
    """Each type's best response under the model's detection and under the schedule's."""
    model = _model_detection(arrays, game)
    exact = schedule_detection(game, schedule)
    games = type_games(game, types)
    return (
        np.array([best_response(g, model) for g in games], dtype=np.int64),
        np.array([best_response(g, exact) for g in games], dtype=np.int64),
    )


def model_prediction(
    arrays: ProblemArrays, game: Game, schedule: Schedule, types: AgentTypes | None = None
) -> Prediction:
    induced, exact = responses(arrays, game, schedule, types)
    weight = np.ones(1) if types is None else types.weight
    deviating = induced != game.compliant

    def named(chosen: IntArray) -> str:
        if types is None or np.all(chosen == chosen[0]):
            return game.action_names[int(chosen[0])]
        return ", ".join(
            f"{t}: {game.action_names[int(i)]}" for t, i in zip(types.names, chosen, strict=True)
        )

    return Prediction(
        induced_action=named(induced),
        deterred=not bool(np.any(deviating)),
        schedule_induced_action=named(exact),
        oversight_cost_per_episode=float(game.cost @ game.rates),
        violation_rate=float(weight @ deviating),
    )


def simulate_policy(
    arrays: ProblemArrays,
    rates: FloatArray,
    *,
    agent: AgentConfig,
    episodes: int,
    population: int,
    seed: int,
    schedule: Schedule = "coordinated",
    label: str = "policy",
    scale: float = 1.0,
    penalties: FloatArray | None = None,
    types: AgentTypes | None = None,
) -> PolicyRun:
    """Simulate ``population`` agents for ``episodes`` episodes under monitor ``rates``.

    ``penalties`` (per action, the compliant entry being the false-positive penalty) default
    to the caps: pass the solver's when it designs penalties. With ``types``, each agent is
    first drawn to a type by weight (the generator's first draw) and has that type's gains.
    """
    check_size(episodes, population, len(arrays.action_names))
    game = Game.from_arrays(arrays, rates, penalties)
    rng = np.random.default_rng(seed)
    exact = schedule_detection(game, schedule)
    games = type_games(game, types)
    if types is None:
        agent_type = np.zeros(population, dtype=np.int64)
    else:
        agent_type = rng.choice(len(games), size=population, p=types.weight / types.weight.sum())
    if agent.kind == "rational":
        best = responses(arrays, game, schedule, types)[1]  # under the simulated detection
        learner: Agent = Rational(population, best[agent_type])
    else:
        learner = agent.build(game, population, episodes, exact)
    # Each agent's realised utilities, rescaled into [0, 1] with its own type's known range.
    reward_free = np.empty((len(games), game.n_actions))
    reward_caught = np.empty_like(reward_free)
    for k, g in enumerate(games):
        free, caught_utility = g.utilities()
        low, high = reward_range(g)
        span = high - low
        reward_free[k] = (free - low) / span if span > 0 else 0.5
        reward_caught[k] = (caught_utility - low) / span if span > 0 else 0.5
    gains = np.array([g.gain for g in games])

    n, m, c = game.n_actions, game.n_monitors, game.compliant
    rows = np.arange(population)
    counts = np.zeros((population, n), dtype=np.int64)
    caught_by_action = np.zeros(n, dtype=np.int64)
    detections = np.zeros(population)
    flags = np.zeros(population)
    payoff = np.zeros(population)
    cost = np.zeros(population)
    final = np.zeros(population)
    inspections = np.zeros(m, dtype=np.int64)
    catches = np.zeros(m, dtype=np.int64)
    curve = np.empty(episodes)
    window_start = episodes - max(1, math.ceil(FINAL_WINDOW * episodes))

    for t in range(episodes):
        actions = learner.choose(rng, t)
        inspected, caught_by = draw_inspections(rng, game, schedule, actions)
        caught = np.logical_or.reduce(caught_by, axis=0)
        learner.update(
            actions,
            np.where(caught, reward_caught[agent_type, actions], reward_free[agent_type, actions]),
        )

        counts[rows, actions] += 1
        caught_by_action += np.bincount(actions[caught], minlength=n)
        violating = actions != c
        detections += caught & violating
        flags += caught & ~violating
        payoff += gains[agent_type, actions] - caught * game.penalty[actions]
        cost += game.cost @ inspected
        inspections += np.count_nonzero(inspected, axis=1)
        catches += np.count_nonzero(caught_by, axis=1)
        curve[t] = violating.mean()
        if t >= window_start:
            final += violating

    taken = counts.sum(axis=0)
    model = _model_detection(arrays, game)
    action_stats = []
    for i, name in enumerate(game.action_names):
        z = None
        if taken[i] > 0:
            p = exact[i]
            se = math.sqrt(max(p * (1 - p), 1e-300) / taken[i])
            z = (caught_by_action[i] / taken[i] - p) / se
        action_stats.append(
            ActionStats(
                name=name,
                compliant=i == c,
                rate=Estimate.across(counts[:, i] / episodes),
                taken=int(taken[i]),
                caught=int(caught_by_action[i]),
                detection=Estimate.proportion(int(caught_by_action[i]), int(taken[i])),
                model_detection=float(model[i]),
                schedule_detection=float(exact[i]),
                z=z,
            )
        )
    total = population * episodes
    violation = 1.0 - counts[:, c] / episodes
    return PolicyRun(
        label=label,
        scale=scale,
        rates={name: float(x) for name, x in zip(game.monitor_names, game.rates, strict=True)},
        prediction=model_prediction(arrays, game, schedule, types),
        violation_rate=Estimate.across(violation),
        final_violation_rate=Estimate.across(final / (episodes - window_start)),
        detections_per_episode=Estimate.across(detections / episodes),
        false_flags_per_episode=Estimate.across(flags / episodes),
        oversight_cost_per_episode=Estimate.across(cost / episodes),
        mean_payoff=Estimate.across(payoff / episodes),
        actions=tuple(action_stats),
        monitors=tuple(
            MonitorStats(name, float(game.rates[j]), float(inspections[j] / total), int(catches[j]))
            for j, name in enumerate(game.monitor_names)
        ),
        curve=curve,
        warnings=tuple(policy_warnings(arrays, game, schedule, types)),
        types=type_stats(arrays, game, schedule, types, agent_type, violation),
    )


def type_stats(
    arrays: ProblemArrays,
    game: Game,
    schedule: Schedule,
    types: AgentTypes | None,
    agent_type: IntArray,
    violation: FloatArray,
) -> tuple[TypeStats, ...]:
    """Per type: the predicted responses and its agents' violation rate (none without types)."""
    if types is None:
        return ()
    induced, exact = responses(arrays, game, schedule, types)
    out = []
    for k, name in enumerate(types.names):
        mine = violation[agent_type == k]
        out.append(
            TypeStats(
                name=name,
                weight=float(types.weight[k]),
                agents=int(mine.size),
                induced_action=game.action_names[int(induced[k])],
                schedule_induced_action=game.action_names[int(exact[k])],
                violation_rate=(
                    Estimate.across(mine) if mine.size else Estimate(math.nan, math.nan, math.nan)
                ),
            )
        )
    return tuple(out)


def _model_detection(arrays: ProblemArrays, game: Game) -> FloatArray:
    """The solver's detection: min(1, Qx) for deviations, f.x for compliance (spec v1)."""
    from ..engine.verify import evaluate_policy

    return evaluate_policy(arrays, game.rates).detection


def policy_warnings(
    arrays: ProblemArrays, game: Game, schedule: Schedule, types: AgentTypes | None = None
) -> list[str]:
    notes = []
    low = game.rates < arrays.min_rate - 1e-12
    high = game.rates > arrays.max_rate + 1e-12
    for j in np.flatnonzero(low | high):
        notes.append(
            f"monitor {game.monitor_names[j]!r} runs at rate {game.rates[j]:.4g}, outside its "
            f"allowed [{arrays.min_rate[j]:g}, {arrays.max_rate[j]:g}]"
        )
    model = _model_detection(arrays, game)
    exact = schedule_detection(game, schedule)
    gap = float(np.max(np.abs(model - exact))) if model.size else 0.0
    if gap > 1e-9:
        total = float(game.rates.sum())
        why = (
            f"total rate {total:.4g} > 1, so monitors must inspect some of the same episodes"
            if schedule == "coordinated"
            else "independent monitors sometimes inspect the same episode"
        )
        notes.append(
            f"detection under the {schedule} schedule differs from the model's linear "
            f"P_i(x) by up to {gap:.3g} ({why})"
        )
    prediction = model_prediction(arrays, game, schedule, types)
    if prediction.schedule_induced_action != prediction.induced_action:
        notes.append(
            f"a rational agent takes {prediction.schedule_induced_action!r} under the "
            f"simulated detection, not {prediction.induced_action!r} as the model predicts"
        )
    return notes


@dataclass(frozen=True, eq=False)
class Policy:
    """A policy to simulate: monitor rates (and penalties, default the caps)."""

    label: str
    rates: FloatArray
    scale: float = 1.0
    penalties: FloatArray | None = None


def simulate(
    arrays: ProblemArrays,
    policies: Sequence[Policy],
    *,
    agent: AgentConfig,
    episodes: int,
    population: int,
    seed: int,
    schedule: Schedule = "coordinated",
    name: str = "spec",
    file: str = "<spec>",
    types: AgentTypes | None = None,
) -> Simulation:
    """Simulate each policy; every policy uses a fresh generator from the same seed."""
    started = time.perf_counter()
    runs = tuple(
        simulate_policy(
            arrays,
            p.rates,
            agent=agent,
            episodes=episodes,
            population=population,
            seed=seed,
            schedule=schedule,
            label=p.label,
            scale=p.scale,
            penalties=p.penalties,
            types=types,
        )
        for p in policies
    )
    return Simulation(
        name=name,
        file=file,
        agent=agent.kind,
        parameters=agent.parameters(arrays.n_actions, episodes),
        episodes=episodes,
        population=population,
        seed=seed,
        schedule=schedule,
        runs=runs,
        seconds=time.perf_counter() - started,
    )
