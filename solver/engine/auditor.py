"""Auditors without commitment: the inspection game between the agent and a strategic auditor.

The solver-auditor model of Hazan, Lin, Braverman & Agarwal ("AI Alignment via Incentives and
Correction", 2026) lets the auditor be an agent too: it inspects only when inspecting pays.
Then the principal no longer commits to the monitor's rate; agent and auditor move at once
and the outcome is a Nash equilibrium of the inspection game. Tsebelis ("The abuse of
probability in political analysis: the Robinson Crusoe fallacy", APSR 1989) showed its
paradox: in the mixed equilibrium the inspection rate makes the *agent* indifferent and the
offence rate makes the *auditor* indifferent, so a larger penalty lowers inspection and
leaves offending unchanged.

The game. The auditor runs one monitor j (rate x in [min_rate, max_rate]); every other
monitor stays at its floor (min_rate), giving base detection b_i = Q_i x_floor. Each episode
is inspected or not; against action i an inspection catches with probability
p1_i = min(1, b_i + q_ij) and no inspection with p0_i = min(1, b_i), so at inspection rate x
the agent is caught with P_i(x) = (1 - x) p0_i + x p1_i (false flags likewise for the
compliant action). p0, p1 and q_ij are the model's P_i and P_0 at those policies
(``model/detection.inspection_detection``), which the simulation plays too. The agent's
payoff is its expected utility u(g_i) - P_i(x) d_i (CARA, ``utility.py``). The auditor's
payoff per episode, with inspection cost c, catch reward R and miss loss L, is

    inspect:  -c + [i offends] (q_ij R - (1 - q_ij) L)      not:  -[i offends] L,

so inspecting gains -c + q_ij (R + L) against an offence and -c against compliance.
Both payoffs are linear in x, so the game is the bimatrix game with the agent's n actions as
rows and two columns, x = min_rate and x = max_rate; a mixed strategy over the columns is an
inspection rate. With one offence, q = q_ij, gain gap g and penalty F (risk neutral, no
floors), the interior equilibrium is x* = g / (q F) and offence rate c / (q (R + L)).

The general method (exact): an n x 2 game has its extreme equilibria where the agent's
upper envelope of n lines in t (the weight on max_rate) bends, or at t in {0, 1}. At each
candidate t, with S the agent's best responses and delta_i the auditor's gain from max_rate
over min_rate against i, the agent's mixtures sigma on S are those with
sum sigma_i delta_i <= 0 (t = 0), >= 0 (t = 1) or = 0 (interior); their extreme points are
the pure best responses meeting the sign condition and the two-action mixtures that make
the auditor indifferent. This enumerates every extreme equilibrium (cross-checked against
nashpy's vertex enumeration in tests). The reported equilibrium is the one with the least
principal loss.

The commitment benchmark: the principal commits to the same monitor's rate (the other
monitors at their floors), the agent best-responds with ties to the principal; for each
candidate action the rates inducing it form an interval, and the least rate in it is best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.detection import inspection_detection
from ..model.utility import FloatArray, caught_loss, utility
from ..results.strategy import AuditorReport, GameOutcome
from ..spec.document import Spec
from .verify import margin_in_utility

#: Payoff differences below this (relative) are ties.
TIE = 1e-12


@dataclass(frozen=True)
class InspectionGame:
    """The n x 2 bimatrix game: rows the agent's actions, columns min_rate and max_rate."""

    action_names: tuple[str, ...]
    compliant: int
    rates: tuple[float, float]  # the auditor's columns (inspection rates)
    agent: FloatArray  # n x 2, the agent's expected utility
    auditor: FloatArray  # n x 2, the auditor's expected payoff per episode
    harm: FloatArray  # n
    monitor_cost: float  # per episode at rate 1
    fixed_cost: float  # paid when the rate is above 0
    floor_cost: float  # the other monitors at their floors
    margin: float  # the agent's margin (commitment only), utility units

    def principal_loss(self, sigma: FloatArray, rate: float) -> float:
        fixed = self.fixed_cost if rate > 1e-12 else 0.0
        return float(self.floor_cost + self.monitor_cost * rate + fixed + sigma @ self.harm)

    def outcome(self, sigma: FloatArray, t: float) -> GameOutcome:
        low, high = self.rates
        rate = low + t * (high - low)
        return GameOutcome(
            offence_rate=float(1.0 - sigma[self.compliant]),
            inspection_rate=float(rate),
            principal_loss=self.principal_loss(sigma, rate),
            agent_strategy={n: float(s) for n, s in zip(self.action_names, sigma, strict=True)},
        )


def inspection_game(spec: Spec, catch_reward: float | None = None) -> InspectionGame:
    """The game of ``spec``'s [auditor] (with another catch reward, if given)."""
    auditor = spec.auditor
    if auditor is None:
        raise ValueError("the spec has no [auditor] table")
    arrays = ProblemArrays.for_design(spec)
    j = arrays.monitor_names.index(auditor.monitor)
    c = arrays.compliant
    # the model's detections between inspections, in an inspected episode and by the
    # inspection alone (shared with the simulation of both sides learning)
    inspection = inspection_detection(arrays, j)
    floors, own = inspection.floors, inspection.own
    caught_not, caught_inspected = inspection.not_inspected, inspection.inspected
    penalty = arrays.penalty_cap.copy()
    penalty[c] = arrays.false_positive_penalty
    r = arrays.risk_aversion
    relative = arrays.gain - arrays.gain[c]
    value, loss = utility(relative, r), caught_loss(relative, penalty, r)
    low, high = float(arrays.min_rate[j]), float(arrays.max_rate[j])
    agent = np.stack(
        [value - loss * ((1 - x) * caught_not + x * caught_inspected) for x in (low, high)],
        axis=1,
    )
    reward = auditor.catch_reward if catch_reward is None else catch_reward
    offends = np.ones(arrays.n_actions)
    offends[c] = 0.0
    q = np.where(offends > 0, own, 0.0)
    gain_of_inspecting = -auditor.inspection_cost + offends * q * (reward + auditor.miss_loss)
    not_inspecting = -offends * auditor.miss_loss
    payoff = np.stack([not_inspecting + x * gain_of_inspecting for x in (low, high)], axis=1)
    monitor = spec.monitors[[m.name for m in spec.monitors].index(auditor.monitor)]
    return InspectionGame(
        action_names=arrays.action_names,
        compliant=c,
        rates=(low, high),
        agent=agent,
        auditor=payoff,
        harm=np.array([a.harm for a in spec.actions], dtype=float),
        monitor_cost=float(arrays.cost[j]),
        fixed_cost=float(monitor.fixed_cost),
        floor_cost=float(arrays.cost @ floors),
        margin=margin_in_utility(arrays),
    )


@dataclass(frozen=True)
class Equilibrium:
    """One Nash equilibrium: the agent's mixed strategy and the auditor's weight on max_rate."""

    sigma: FloatArray  # over the agent's actions
    t: float  # weight on the max_rate column
    outcome: GameOutcome


def _tolerance(values: FloatArray) -> float:
    return TIE * max(1.0, float(np.max(np.abs(values), initial=0.0)))


def equilibria(game: InspectionGame) -> list[Equilibrium]:
    """Every extreme Nash equilibrium of the n x 2 game (see the module docstring)."""
    a0, slope = game.agent[:, 0], game.agent[:, 1] - game.agent[:, 0]
    delta = game.auditor[:, 1] - game.auditor[:, 0]
    n = len(a0)
    tol_agent, tol_auditor = _tolerance(game.agent), _tolerance(game.auditor)
    candidates = {0.0, 1.0}
    for i in range(n):
        for k in range(i + 1, n):
            if abs(slope[i] - slope[k]) > tol_agent:
                t = (a0[k] - a0[i]) / (slope[i] - slope[k])
                # A crossing is a vertex of the agent's best-response polytope only where
                # the two lines are best responses there (on the upper envelope): a crossing
                # below it lies inside an interval with one best response, not extreme.
                if 0.0 < t < 1.0:
                    payoff = a0 + t * slope
                    if min(payoff[i], payoff[k]) >= payoff.max() - tol_agent:
                        candidates.add(float(t))
    found: list[Equilibrium] = []
    for t in sorted(candidates):
        payoff = a0 + t * slope
        best = np.flatnonzero(payoff >= payoff.max() - tol_agent)
        sign = -1 if t == 0.0 else (1 if t == 1.0 else 0)
        for sigma in _auditor_consistent(best, delta, sign, tol_auditor, n):
            _add(found, Equilibrium(sigma, t, game.outcome(sigma, t)))
    return found


def _auditor_consistent(
    support: np.ndarray, delta: FloatArray, sign: int, tol: float, n: int
) -> list[FloatArray]:
    """Extreme sigma on ``support`` with sign(sum sigma delta) allowed by ``sign``.

    sign -1: sum <= 0 (the auditor weakly prefers min_rate); +1: >= 0; 0: = 0 (indifferent).
    """
    out: list[FloatArray] = []
    for i in support:
        ok = (
            (sign < 0 and delta[i] <= tol)
            or (sign > 0 and delta[i] >= -tol)
            or (sign == 0 and abs(delta[i]) <= tol)
        )
        if ok:
            sigma = np.zeros(n)
            sigma[i] = 1.0
            out.append(sigma)
    for i in support:
        for k in support:
            if delta[i] < -tol and delta[k] > tol:
                sigma = np.zeros(n)
                sigma[i] = delta[k] / (delta[k] - delta[i])
                sigma[k] = -delta[i] / (delta[k] - delta[i])
                out.append(sigma)
    return out


def _add(found: list[Equilibrium], candidate: Equilibrium) -> None:
    for e in found:
        if abs(e.t - candidate.t) <= 1e-9 and np.allclose(e.sigma, candidate.sigma, atol=1e-9):
            return
    found.append(candidate)


def principal_preferred(found: Sequence[Equilibrium]) -> Equilibrium:
    """The equilibrium with the least principal loss (then the least offending)."""
    return min(found, key=lambda e: (e.outcome.principal_loss, e.outcome.offence_rate))


def inspection_equilibrium(spec: Spec, catch_reward: float | None = None) -> Equilibrium:
    """The reported equilibrium of ``spec``'s inspection game (the API simulate uses)."""
    found = equilibria(inspection_game(spec, catch_reward))
    if not found:  # cannot happen: every finite game has an equilibrium (Nash 1951)
        raise ArithmeticError("no equilibrium found in the inspection game")
    return principal_preferred(found)


def committed_inspection(game: InspectionGame, objective: str) -> GameOutcome | None:
    """The principal's best committed inspection rate (ties to the principal, margin kept)."""
    a0, slope = game.agent[:, 0], game.agent[:, 1] - game.agent[:, 0]
    n = len(a0)
    c = game.compliant
    order = [c] if objective == "deter_all" else [c] + [a for a in range(n) if a != c]
    best: GameOutcome | None = None
    tol = _tolerance(game.agent)
    for a in order:
        low, high = 0.0, 1.0
        for i in range(n):
            if i == a:
                continue
            # (a0_a - a0_i - margin) + t (slope_a - slope_i) >= 0
            alpha = a0[a] - a0[i] - game.margin
            beta = slope[a] - slope[i]
            if abs(beta) <= tol:
                if alpha < -tol:
                    low, high = 1.0, 0.0
            elif beta > 0:
                low = max(low, -alpha / beta)
            else:
                high = min(high, -alpha / beta)
        if low > high + 1e-12:
            continue
        sigma = np.zeros(n)
        sigma[a] = 1.0
        outcome = game.outcome(sigma, min(max(low, 0.0), 1.0))
        if best is None or outcome.principal_loss < best.principal_loss - 1e-12:
            best = outcome
    return best


def catch_reward_for_target(spec: Spec, target: float) -> float | None:
    """The least catch reward whose equilibrium offence rate is at most ``target``.

    Bisection on R (the equilibrium offence rate falls as R rises: a larger reward makes
    inspecting pay at a lower offence rate), to a relative 1e-10; None when no reward up to
    1e12 reaches the target (the agent offends even against the largest inspection rate).
    """

    def offence(reward: float) -> float:
        return inspection_equilibrium(spec, reward).outcome.offence_rate

    if offence(0.0) <= target:
        return 0.0
    high = 1.0
    while offence(high) > target:
        high *= 4.0
        if high > 1e12:
            return None
    low = 0.0
    while high - low > 1e-10 * max(1.0, high):
        middle = 0.5 * (low + high)
        if offence(middle) <= target:
            high = middle
        else:
            low = middle
    return high


def auditor_report(spec: Spec) -> AuditorReport:
    """The equilibrium next to the committed optimum, and the catch reward for a target."""
    auditor = spec.auditor
    assert auditor is not None
    game = inspection_game(spec)
    found = equilibria(game)
    equilibrium = principal_preferred(found).outcome
    commitment = committed_inspection(game, spec.oversight.objective)
    price = None if commitment is None else equilibrium.principal_loss - commitment.principal_loss
    needed = None
    message = ""
    if auditor.target_offence_rate is not None:
        needed = catch_reward_for_target(spec, auditor.target_offence_rate)
        if needed is None:
            message = (
                f"no catch reward brings the offence rate to {auditor.target_offence_rate:g}: "
                "the agent offends even at the monitor's max_rate; raise max_rate or penalties"
            )
    if commitment is None:
        message = (message + "; " if message else "") + (
            "no committed rate of this monitor alone deters every action"
        )
    return AuditorReport(
        monitor=auditor.monitor,
        equilibrium=equilibrium,
        commitment=commitment,
        price_of_no_commitment=price,
        equilibria=len(found),
        catch_reward=auditor.catch_reward,
        target_offence_rate=auditor.target_offence_rate,
        catch_reward_needed=needed,
        message=message,
    )


__all__ = [
    "Equilibrium",
    "InspectionGame",
    "auditor_report",
    "catch_reward_for_target",
    "committed_inspection",
    "equilibria",
    "inspection_equilibrium",
    "inspection_game",
]
