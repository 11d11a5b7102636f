"""Simulating agents under an oversight policy: does the designed deterrence hold in data?

The solver predicts what a rational offender does (Becker 1968); this module plays the
game episode by episode, for a population of K independent agents at once, and measures
what the agents actually do.

One episode, for every agent k at once (vectorised over k and over the monitors j):

1. agent k picks an action a_k (its own rule: see ``agents.py``);
2. each monitor j inspects the episode with probability x_j (its rate);
3. an inspection by monitor j catches action a_k with probability q_{a_k j}, or, when a_k is
   the compliant action, flags it falsely with probability f_j;
4. a caught agent pays the action's penalty (its cap F_i: Becker's maximal-penalty
   principle), a falsely flagged one the false-positive penalty F_fp. Its payoff in money is
   g_a - F_a 1{caught}; learners see only that realised payoff (as CARA utility u).

Inspection schedules (``coordinated``, the default, and ``independent``) and the game's
arrays are ``solver/model/game.py``'s, shared with a deployed policy's runtime:
``Game.schedule_detection`` gives the exact detection probability of either schedule, and
the rational agent best-responds to it; under ``independent`` the linear model over-states
detection, and a simulation shows by how much.

The modules of this package: ``agents.py`` (who the agents are and how they choose),
``outcomes.py`` (what a run reports), ``limits.py`` (the largest run), this one (the
episode loop, and the model's prediction beside it, computed once per policy).

Every random draw comes from one ``numpy.random.Generator`` seeded with ``seed``, in a fixed
order, so a run is reproducible bit for bit. Several policies are each simulated with a
fresh generator from the same seed (common random numbers: policies are compared on the
same luck).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.game import SCHEDULES, BoolArray, Game, Schedule
from ..model.utility import FloatArray
from .agents import (
    AGENT_KINDS,
    DEFAULT_EPSILON,
    Agent,
    AgentConfig,
    AgentKind,
    AgentTypes,
    IntArray,
    Rational,
    best_response,
    exp3_gamma,
    exp3_regret_bound,
    reward_range,
    type_games,
)
from .limits import MAX_AGENT_ACTIONS, MAX_AGENT_EPISODES, MAX_EPISODES, MAX_POPULATION, check_size
from .outcomes import (
    FINAL_WINDOW,
    ActionStats,
    Estimate,
    MonitorStats,
    PolicyRun,
    Prediction,
    Simulation,
    TypeStats,
    downsample,
)

__all__ = [
    "AGENT_KINDS",
    "DEFAULT_EPSILON",
    "FINAL_WINDOW",
    "MAX_AGENT_ACTIONS",
    "MAX_AGENT_EPISODES",
    "MAX_EPISODES",
    "MAX_POPULATION",
    "SCHEDULES",
    "AgentConfig",
    "AgentKind",
    "AgentTypes",
    "Estimate",
    "Game",
    "Policy",
    "PolicyRun",
    "Responses",
    "Schedule",
    "Simulation",
    "check_size",
    "downsample",
    "exp3_gamma",
    "exp3_regret_bound",
    "simulate",
    "simulate_policy",
]


@dataclass(frozen=True, eq=False)
class Responses:
    """What the model and the schedule say of one policy, computed once per run.

    ``model`` is the solver's detection (min(1, Qx) for deviations, f.x for compliance),
    ``exact`` the schedule's; ``induced`` and ``schedule_induced`` are each type's best
    response to them (one entry without types), ``games`` the game each type plays.
    """

    model: FloatArray
    exact: FloatArray
    games: tuple[Game, ...]
    induced: IntArray
    schedule_induced: IntArray

    @classmethod
    def of(
        cls, arrays: ProblemArrays, game: Game, schedule: Schedule, types: AgentTypes | None
    ) -> Responses:
        from ..engine.verify import evaluate_policy

        model = evaluate_policy(arrays, game.rates).detection
        exact = game.schedule_detection(schedule)
        games = tuple(type_games(game, types))
        return cls(
            model=model,
            exact=exact,
            games=games,
            induced=np.array([best_response(g, model) for g in games], dtype=np.int64),
            schedule_induced=np.array([best_response(g, exact) for g in games], dtype=np.int64),
        )


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


def model_prediction(game: Game, play: Responses, types: AgentTypes | None = None) -> Prediction:
    """The model's and the schedule's rational responses, the predicted cost and violation."""
    induced, exact = play.induced, play.schedule_induced
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
    play = Responses.of(arrays, game, schedule, types)
    exact, games = play.exact, play.games
    if types is None:
        agent_type = np.zeros(population, dtype=np.int64)
    else:
        agent_type = rng.choice(len(games), size=population, p=types.weight / types.weight.sum())
    if agent.kind == "rational":
        # under the simulated detection
        learner: Agent = Rational(population, play.schedule_induced[agent_type])
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
    model = play.model
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
        prediction=model_prediction(game, play, types),
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
        warnings=tuple(policy_warnings(arrays, game, schedule, play, types)),
        types=type_stats(game, types, play, agent_type, violation),
    )


def type_stats(
    game: Game,
    types: AgentTypes | None,
    play: Responses,
    agent_type: IntArray,
    violation: FloatArray,
) -> tuple[TypeStats, ...]:
    """Per type: the predicted responses and its agents' violation rate (none without types)."""
    if types is None:
        return ()
    induced, exact = play.induced, play.schedule_induced
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


def policy_warnings(
    arrays: ProblemArrays,
    game: Game,
    schedule: Schedule,
    play: Responses,
    types: AgentTypes | None = None,
) -> list[str]:
    """Rates outside their bounds; where the schedule's detection departs from the model's,
    and whether that changes what a rational agent does."""
    notes = []
    low = game.rates < arrays.min_rate - 1e-12
    high = game.rates > arrays.max_rate + 1e-12
    for j in np.flatnonzero(low | high):
        notes.append(
            f"monitor {game.monitor_names[j]!r} runs at rate {game.rates[j]:.4g}, outside its "
            f"allowed [{arrays.min_rate[j]:g}, {arrays.max_rate[j]:g}]"
        )
    model, exact = play.model, play.exact
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
    prediction = model_prediction(game, play, types)
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
