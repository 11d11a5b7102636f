"""Simulating agents under an oversight policy: does the designed deterrence hold in data?

The solver predicts what a rational offender does (Becker 1968); this module plays the
game episode by episode, for a population of K independent agents at once, and measures
what the agents actually do.

One episode, for every agent k at once (vectorised over k and over the monitors j):

1. agent k picks an action a_k (its own rule: see ``agents.py``);
2. each monitor j inspects the episode with probability x_j (its rate);
3. an inspection by monitor j catches action a_k with probability q_{a_k j}, or, when a_k is
   the compliant action, flags it falsely with probability f_j (under exponential detection
   every monitor works on every episode and catches with 1 - (1 - q_{a_k j})^{x_j}, as
   ``Game`` says);
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

The population is played in blocks of :data:`BLOCK_AGENTS` agents (agents are independent,
so a block is a task on its own). Each block's draws come from its own
``numpy.random.Generator``, on a stream spawned from ``seed`` for that block
(``SeedSequence(seed).spawn``), in a fixed order; blocks are joined in order, counts as
integers. A run is therefore reproducible bit for bit, and the same whether the blocks run
in this process or on a Dask cluster of any size (``mapper``; docs/experiments.md). Several
policies are simulated on the same block streams (common random numbers: policies are
compared on the same luck).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ..model import interrupts
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
    "BLOCK_AGENTS",
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
    "Block",
    "BlockTask",
    "Estimate",
    "Game",
    "Mapper",
    "Policy",
    "PolicyRun",
    "Responses",
    "Schedule",
    "Simulation",
    "block_sizes",
    "check_size",
    "downsample",
    "exp3_gamma",
    "exp3_regret_bound",
    "run_block",
    "serial_map",
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
    if game.exponential:  # every monitor works on every episode, at its intensity
        inspected = np.broadcast_to(x > 0, (m, k))
        caught = inspected & (rng.random((m, k)) < game.monitor_catch().T[:, actions])
        return inspected, caught
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


#: Agents per block: a simulation's population is cut into blocks of this many agents (the
#: last one smaller), each a task with its own random stream, so the blocks, and therefore
#: the results, are the same whichever executor runs them and however many workers it has.
BLOCK_AGENTS = 16_384

T = TypeVar("T")
R = TypeVar("R")
#: Runs a function over tasks and returns the results in the tasks' order: the builtin
#: ``map`` in this process (:func:`serial_map`) or a Dask cluster's (``batch.dask_executor``).
Mapper = Callable[[Callable[[T], R], Sequence[T]], list[R]]


def serial_map(function: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
    """Run every task here, one after another."""
    results = []
    for task in tasks:
        interrupts.check()  # a Ctrl-C swallowed on its way (model/interrupts.py)
        results.append(function(task))
    return results


def block_sizes(population: int) -> list[int]:
    """The population's blocks: :data:`BLOCK_AGENTS` agents each, the last one smaller."""
    full, rest = divmod(population, BLOCK_AGENTS)
    return [BLOCK_AGENTS] * full + ([rest] if rest else [])


def block_seeds(seed: int, blocks: int) -> list[np.random.SeedSequence]:
    """One independent random stream per block: ``SeedSequence(seed).spawn(blocks)``, per
    block and not per worker, so a run is the same bit for bit on any executor."""
    return np.random.SeedSequence(seed).spawn(blocks)


@dataclass(frozen=True, eq=False)
class BlockTask:
    """One block of agents under one policy: everything a worker needs to play it."""

    game: Game
    play: Responses
    schedule: Schedule
    agent: AgentConfig
    type_weight: FloatArray | None  # w_k, None without types
    episodes: int
    agents: int
    seed: np.random.SeedSequence


@dataclass(frozen=True, eq=False)
class Block:
    """What one block's agents did: per-agent tallies and per-episode counts."""

    agent_type: IntArray  # (agents,)
    counts: IntArray  # (agents, actions) episodes each agent took each action
    detections: FloatArray  # (agents,) violations caught
    flags: FloatArray  # (agents,) compliant episodes falsely flagged
    payoff: FloatArray  # (agents,) money, summed over episodes
    cost: FloatArray  # (agents,) oversight spend, summed over episodes
    final: FloatArray  # (agents,) violations in the final window
    caught_by_action: IntArray  # (actions,)
    inspections: IntArray  # (monitors,)
    catches: IntArray  # (monitors,)
    violating: IntArray  # (episodes,) agents violating in each episode


def run_block(task: BlockTask) -> Block:
    """Play one block of agents for every episode (the vectorised inner loop).

    The block's generator draws, in a fixed order: each agent's type (with types), then
    per episode the agents' choices and the inspections (:func:`draw_inspections`).
    """
    game, play, episodes, population = task.game, task.play, task.episodes, task.agents
    rng = np.random.default_rng(task.seed)
    exact, games = play.exact, play.games
    if task.type_weight is None:
        agent_type = np.zeros(population, dtype=np.int64)
    else:
        weight = task.type_weight
        agent_type = rng.choice(len(games), size=population, p=weight / weight.sum())
    if task.agent.kind == "rational":
        # under the simulated detection
        learner: Agent = Rational(population, play.schedule_induced[agent_type])
    else:
        learner = task.agent.build(game, population, episodes, exact)
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
    violating_count = np.empty(episodes, dtype=np.int64)
    window_start = episodes - max(1, math.ceil(FINAL_WINDOW * episodes))

    for t in range(episodes):
        interrupts.check()  # a Ctrl-C swallowed on its way (model/interrupts.py)
        actions = learner.choose(rng, t)
        inspected, caught_by = draw_inspections(rng, game, task.schedule, actions)
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
        cost += game.episode_spend(inspected)
        inspections += np.count_nonzero(inspected, axis=1)
        catches += np.count_nonzero(caught_by, axis=1)
        violating_count[t] = np.count_nonzero(violating)
        if t >= window_start:
            final += violating
    return Block(
        agent_type=agent_type,
        counts=counts,
        detections=detections,
        flags=flags,
        payoff=payoff,
        cost=cost,
        final=final,
        caught_by_action=caught_by_action,
        inspections=inspections,
        catches=catches,
        violating=violating_count,
    )


def policy_tasks(
    arrays: ProblemArrays,
    rates: FloatArray,
    *,
    agent: AgentConfig,
    episodes: int,
    population: int,
    seed: int,
    schedule: Schedule = "coordinated",
    penalties: FloatArray | None = None,
    types: AgentTypes | None = None,
) -> list[BlockTask]:
    """One policy's blocks of agents, each with its own stream spawned from ``seed``."""
    check_size(episodes, population, len(arrays.action_names))
    game = Game.from_arrays(arrays, rates, penalties)
    play = Responses.of(arrays, game, schedule, types)
    sizes = block_sizes(population)
    return [
        BlockTask(
            game=game,
            play=play,
            schedule=schedule,
            agent=agent,
            type_weight=None if types is None else types.weight,
            episodes=episodes,
            agents=size,
            seed=stream,
        )
        for size, stream in zip(sizes, block_seeds(seed, len(sizes)), strict=True)
    ]


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
    mapper: Mapper[BlockTask, Block] = serial_map,
) -> PolicyRun:
    """Simulate ``population`` agents for ``episodes`` episodes under monitor ``rates``.

    ``penalties`` (per action, the compliant entry being the false-positive penalty) default
    to the caps: pass the solver's when it designs penalties. With ``types``, each agent is
    first drawn to a type by weight (its block generator's first draw) and has that type's
    gains. The population is played in blocks (:data:`BLOCK_AGENTS`), each on its own
    random stream, by ``mapper`` (here by default; a Dask cluster's gives the same bits).
    """
    tasks = policy_tasks(
        arrays,
        rates,
        agent=agent,
        episodes=episodes,
        population=population,
        seed=seed,
        schedule=schedule,
        penalties=penalties,
        types=types,
    )
    return policy_run(
        arrays, tasks, mapper(run_block, tasks), label=label, scale=scale, types=types
    )


def policy_run(
    arrays: ProblemArrays,
    tasks: Sequence[BlockTask],
    blocks: Sequence[Block],
    *,
    label: str,
    scale: float,
    types: AgentTypes | None,
) -> PolicyRun:
    """One policy's report from its blocks, joined in block order (integer counts are
    summed, per-agent tallies concatenated: the same bits whatever ran the blocks)."""
    game, play, schedule = tasks[0].game, tasks[0].play, tasks[0].schedule
    episodes = tasks[0].episodes
    exact, c = play.exact, game.compliant
    agent_type = np.concatenate([b.agent_type for b in blocks])
    counts = np.concatenate([b.counts for b in blocks])
    caught_by_action = np.sum([b.caught_by_action for b in blocks], axis=0)
    population = int(counts.shape[0])
    window = max(1, math.ceil(FINAL_WINDOW * episodes))  # the final window's episodes

    def joined(name: str) -> FloatArray:
        return np.concatenate([getattr(b, name) for b in blocks])

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
    inspections = np.sum([b.inspections for b in blocks], axis=0)
    catches = np.sum([b.catches for b in blocks], axis=0)
    violation = 1.0 - counts[:, c] / episodes
    return PolicyRun(
        label=label,
        scale=scale,
        rates={name: float(x) for name, x in zip(game.monitor_names, game.rates, strict=True)},
        prediction=model_prediction(game, play, types),
        violation_rate=Estimate.across(violation),
        final_violation_rate=Estimate.across(joined("final") / window),
        detections_per_episode=Estimate.across(joined("detections") / episodes),
        false_flags_per_episode=Estimate.across(joined("flags") / episodes),
        oversight_cost_per_episode=Estimate.across(joined("cost") / episodes),
        mean_payoff=Estimate.across(joined("payoff") / episodes),
        actions=tuple(action_stats),
        monitors=tuple(
            MonitorStats(name, float(game.rates[j]), float(inspections[j] / total), int(catches[j]))
            for j, name in enumerate(game.monitor_names)
        ),
        curve=np.sum([b.violating for b in blocks], axis=0) / population,
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
            f"detection under the {schedule} schedule differs from the model's "
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
    mapper: Mapper[BlockTask, Block] = serial_map,
) -> Simulation:
    """Simulate each policy; every policy's blocks use the same streams from ``seed``
    (common random numbers). All policies' blocks go to ``mapper`` at once, so a cluster
    runs them side by side; the result does not depend on which mapper ran them."""
    started = time.perf_counter()
    per_policy = [
        policy_tasks(
            arrays,
            p.rates,
            agent=agent,
            episodes=episodes,
            population=population,
            seed=seed,
            schedule=schedule,
            penalties=p.penalties,
            types=types,
        )
        for p in policies
    ]
    blocks = mapper(run_block, [task for tasks in per_policy for task in tasks])
    runs = []
    done = 0
    for p, tasks in zip(policies, per_policy, strict=True):
        mine = blocks[done : done + len(tasks)]
        done += len(tasks)
        runs.append(policy_run(arrays, tasks, mine, label=p.label, scale=p.scale, types=types))
    return Simulation(
        name=name,
        file=file,
        agent=agent.kind,
        parameters=agent.parameters(arrays.n_actions, episodes),
        episodes=episodes,
        population=population,
        seed=seed,
        schedule=schedule,
        runs=tuple(runs),
        seconds=time.perf_counter() - started,
    )
