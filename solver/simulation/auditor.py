"""Both sides learning: agents against strategic auditors that adapt their inspection rate.

With an ``[auditor]`` (issue 5) nobody commits to the monitor's rate: the auditor inspects
when inspecting pays it. The solver computes the Nash equilibrium of that inspection game
(``auditor.py``); here K independent (agent, auditor) pairs learn from their own realised
payoffs and we measure the time-averaged offence and inspection rates. Tsebelis (1989):
offending should hover around the equilibrium, not vanish.

One episode, for every pair k at once:

1. the agent picks an action a_k (epsilon-greedy, UCB1 or Exp3 over its actions);
2. the auditor picks a column, its monitor's min_rate or max_rate, with Exp3 (the
   adversarial bandit: its opponent adapts too), and inspects with that column's rate x;
3. every other monitor runs at its floor (min_rate), giving base detection b_i; one uniform
   V decides the catch: inspected, the agent is caught when V < p1_i = min(1, b_i + q_i) and
   the auditor's own inspection caught it when V < q_i; not inspected, caught when
   V < p0_i = min(1, b_i). So P(caught) = (1 - x) p0_i + x p1_i, as in ``auditor.py``;
   p0, p1 and q are the model's detections at those policies
   (``model/detection.inspection_detection``, the equilibrium's too);
4. payoffs: the agent g_i - F_i 1{caught} (CARA utility for learning); the auditor
   -c 1{inspected} + R 1{own catch of an offence} - L 1{offence not caught by it}.

Learning rule of the auditor (documented default): Exp3 over its two columns with the
horizon-tuned gamma (Auer et al. 2002b, Cor. 3.2), rewards rescaled into [0, 1] by the
known range [-c - L, R - c] (widened to include 0). Two no-regret learners' time-averaged
play approaches a coarse correlated equilibrium (Hart & Mas-Colell 2000); in the 2 x 2
inspection game their regret bounds pin the time-averaged rates near the mixed equilibrium
(the bounds are derived in ``tests/test_simulate_auditor.py``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import interrupts
from ..model.arrays import ProblemArrays
from ..model.detection import Inspection, inspection_detection
from ..model.game import BoolArray, Game
from ..model.utility import FloatArray
from ..results.serialise import dumps, envelope, jsonable
from .agents import AgentConfig, Exp3, IntArray, exp3_gamma, reward_range
from .limits import check_size
from .outcomes import FINAL_WINDOW, Estimate, downsample


@dataclass(frozen=True)
class AuditorParams:
    """The auditor's side of the game (the ``[auditor]`` table of issue 5)."""

    monitor: str
    inspection_cost: float  # c, per inspection
    catch_reward: float  # R, when its inspection catches an offence
    miss_loss: float  # L, when an offence goes uncaught by it

    @classmethod
    def from_spec(cls, spec: Any) -> AuditorParams | None:
        auditor = getattr(spec, "auditor", None)
        if auditor is None:
            return None
        return cls(
            auditor.monitor,
            float(auditor.inspection_cost),
            float(auditor.catch_reward),
            float(auditor.miss_loss),
        )

    def payoff_range(self) -> tuple[float, float]:
        c, r, loss = self.inspection_cost, self.catch_reward, self.miss_loss
        return min(0.0, -c - loss, -loss, -c), max(0.0, r - c)


@dataclass(frozen=True)
class EquilibriumPoint:
    offence_rate: float
    inspection_rate: float


@dataclass(frozen=True)
class AuditorSimulation:
    name: str
    file: str
    agent: str
    parameters: dict[str, float]
    auditor: AuditorParams
    auditor_gamma: float
    episodes: int
    population: int
    seed: int
    equilibrium: EquilibriumPoint | None
    offence_rate: Estimate  # time-averaged, per pair, CI across pairs
    inspection_rate: Estimate  # realised inspections per episode
    final_offence_rate: Estimate
    final_inspection_rate: Estimate
    agent_payoff: Estimate
    auditor_payoff: Estimate
    offence_curve: FloatArray = field(repr=False)
    inspection_curve: FloatArray = field(repr=False)
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self, curve_points: int = 200, *, timing: bool = True) -> dict[str, Any]:
        """The JSON document of ``deter simulate --format json`` for an ``[auditor]`` spec;
        ``timing=False`` drops the one non-deterministic key, ``timing``."""
        doc: dict[str, Any] = envelope(
            "auditor_simulation",
            {
                "name": self.name,
                "file": self.file,
                "agent": self.agent,
                "parameters": self.parameters,
                "auditor": {**vars(self.auditor), "rule": "exp3", "gamma": self.auditor_gamma},
                "episodes": self.episodes,
                "population": self.population,
                "seed": self.seed,
                "final_window": FINAL_WINDOW,
                "equilibrium": None if self.equilibrium is None else vars(self.equilibrium),
            },
        )
        for key in (
            "offence_rate",
            "inspection_rate",
            "final_offence_rate",
            "final_inspection_rate",
            "agent_payoff",
            "auditor_payoff",
        ):
            estimate: Estimate = getattr(self, key)
            doc[key] = estimate.mean
            doc[f"{key}_ci"] = [estimate.low, estimate.high]
        ends, offence = downsample(self.offence_curve, curve_points)
        _, inspection = downsample(self.inspection_curve, curve_points)
        doc["curve"] = {
            "episode": ends.tolist(),
            "offence_rate": offence.tolist(),
            "inspection_rate": inspection.tolist(),
        }
        if timing:
            doc["timing"] = {"seconds": self.seconds}
        return jsonable(doc)

    def to_json(self, curve_points: int = 200, *, timing: bool = True) -> str:
        """``to_dict()`` as the JSON text ``deter simulate --format json`` prints."""
        return dumps(self.to_dict(curve_points, timing=timing), indent=2) + "\n"


def simulate_auditor(
    arrays: ProblemArrays,
    params: AuditorParams,
    *,
    agent: AgentConfig,
    episodes: int,
    population: int,
    seed: int,
    auditor_gamma: float | None = None,
    equilibrium: EquilibriumPoint | None = None,
    name: str = "spec",
    file: str = "<spec>",
) -> AuditorSimulation:
    """Simulate ``population`` learning (agent, auditor) pairs for ``episodes`` episodes."""
    if agent.kind == "rational":
        raise ValueError(
            "with an [auditor] both sides learn: choose --agent epsilon-greedy, "
            "ucb or exp3 (a rational agent needs a committed policy: use --rates)"
        )
    check_size(episodes, population, len(arrays.action_names))
    started = time.perf_counter()
    j = arrays.monitor_names.index(params.monitor)
    columns = np.array([arrays.min_rate[j], arrays.max_rate[j]])
    # the model's detections at the game's policies (the equilibrium's, ``engine/auditor.py``)
    inspection = inspection_detection(arrays, j)
    game = Game.from_arrays(arrays, inspection.floors)
    c = game.compliant
    offends = np.arange(game.n_actions) != c

    rng = np.random.default_rng(seed)
    learner = agent.build(game, population, episodes, inspection.not_inspected)
    gamma = auditor_gamma if auditor_gamma is not None else exp3_gamma(2, episodes)
    auditor = Exp3(population, 2, gamma)
    free, caught_utility = game.utilities()
    low, high = reward_range(game)
    span = high - low if high > low else 1.0
    a_low, a_high = params.payoff_range()
    a_span = a_high - a_low if a_high > a_low else 1.0

    offences = np.zeros(population)
    inspections = np.zeros(population)
    final_offences = np.zeros(population)
    final_inspections = np.zeros(population)
    agent_payoff = np.zeros(population)
    auditor_payoff = np.zeros(population)
    offence_curve = np.empty(episodes)
    inspection_curve = np.empty(episodes)
    window_start = episodes - max(1, math.ceil(FINAL_WINDOW * episodes))
    cost, reward, loss = params.inspection_cost, params.catch_reward, params.miss_loss

    for t in range(episodes):
        interrupts.check()  # a Ctrl-C swallowed on its way (model/interrupts.py)
        actions = learner.choose(rng, t)
        column = auditor.choose(rng, t)
        inspected, caught, own_catch = draw_catches(rng, inspection, columns[column], actions)
        offence = offends[actions]
        own_catch &= offence
        learner.update(
            actions, (np.where(caught, caught_utility[actions], free[actions]) - low) / span
        )
        audit = -cost * inspected + reward * own_catch - loss * (offence & ~own_catch)
        auditor.update(column, (audit - a_low) / a_span)

        offences += offence
        inspections += inspected
        agent_payoff += game.gain[actions] - caught * game.penalty[actions]
        auditor_payoff += audit
        offence_curve[t] = offence.mean()
        inspection_curve[t] = inspected.mean()
        if t >= window_start:
            final_offences += offence
            final_inspections += inspected

    window = episodes - window_start
    return AuditorSimulation(
        name=name,
        file=file,
        agent=agent.kind,
        parameters=agent.parameters(arrays.n_actions, episodes),
        auditor=params,
        auditor_gamma=gamma,
        episodes=episodes,
        population=population,
        seed=seed,
        equilibrium=equilibrium,
        offence_rate=Estimate.across(offences / episodes),
        inspection_rate=Estimate.across(inspections / episodes),
        final_offence_rate=Estimate.across(final_offences / window),
        final_inspection_rate=Estimate.across(final_inspections / window),
        agent_payoff=Estimate.across(agent_payoff / episodes),
        auditor_payoff=Estimate.across(auditor_payoff / episodes),
        offence_curve=offence_curve,
        inspection_curve=inspection_curve,
        seconds=time.perf_counter() - started,
    )


def draw_catches(
    rng: np.random.Generator, inspection: Inspection, rate: float | FloatArray, actions: IntArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(inspected, caught, caught by the inspection itself) for agents taking ``actions``,
    each inspected with probability ``rate`` (its auditor's column, per agent): one uniform
    V per agent decides the catch, V < the model's detection with or without an inspection, and the
    inspection's own catch is V < its detection alone (within the first: a monitor's own
    detection never exceeds the policy's). So P(caught) = (1 - x) p0_i + x p1_i, the
    equilibrium's (``engine/auditor.inspection_game``)."""
    inspected = np.asarray(rng.random(actions.shape[0]) < rate)
    v = rng.random(actions.shape[0])
    with_it, without = inspection.inspected[actions], inspection.not_inspected[actions]
    detection = np.where(inspected, with_it, without)
    return inspected, v < detection, inspected & (v < inspection.own[actions])


def spec_equilibrium(spec: Any) -> EquilibriumPoint | None:
    """The computed equilibrium of the spec's inspection game (issue 5's ``auditor.py``)."""
    try:
        from ..engine.auditor import inspection_equilibrium
    except ImportError:  # the strategic solver is not installed in this tree
        return None
    outcome = inspection_equilibrium(spec).outcome
    return EquilibriumPoint(outcome.offence_rate, outcome.inspection_rate)
