"""One policy's episode game as numpy arrays, and the exact figures of its inspection schedule.

Shared by the simulation (``solver/simulation``: agents played against a policy) and a
policy document's runtime (``solver/policy``: a deployed auditor), so both play the same
game with the same schedules. numpy and the standard library only: the runtime imports
this module and must not load scipy or cvxpy (``ProblemArrays`` is read, never imported).

Schedules (docs/model.md, "Simulation"). The model's detection is linear,
P_i(x) = min(1, sum_j q_ij x_j): the catches of different monitors never overlap. That is
exactly true when the monitors inspect disjoint episodes, possible whenever sum_j x_j <= 1.
``coordinated`` does this by systematic sampling: one uniform U per episode, monitor j
inspects when (U - s_{j-1}) mod 1 < x_j, with s_j = x_1 + ... + x_j; each monitor still
inspects a fraction x_j of episodes, and above a total rate of 1 the overlap is the least
possible. ``independent`` lets every monitor toss its own coin, so
P_i = 1 - prod_j (1 - q_ij x_j) <= sum_j q_ij x_j.

Exponential detection reads a rate as an intensity, not a share of episodes: every monitor
works on every episode, monitor j catches action i with probability 1 - (1 - q_ij)^{x_j},
independently of the others, and costs c_j x_j an episode. Then P_i = 1 - prod_j
(1 - q_ij)^{x_j}, the model's exactly, whichever schedule is named (docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from .utility import FloatArray, utility

if TYPE_CHECKING:
    from .arrays import ProblemArrays

Schedule = Literal["coordinated", "independent"]
#: |r| x the best gain over complying beyond which a risk-seeking agent's utilities are
#: measured from the best outcome (exp(709) is binary64's largest).
SEEKING_SHIFT = 700.0
SCHEDULES: tuple[str, ...] = ("coordinated", "independent")
BoolArray = NDArray[np.bool_]


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
    exponential: bool = field(default=False, kw_only=True)  # rates are intensities (docstring)

    @classmethod
    def from_arrays(
        cls, arrays: ProblemArrays, rates: FloatArray, penalties: FloatArray | None = None
    ) -> Game:
        """The game of ``rates``; ``penalties`` per action (default: the caps and F_fp)."""
        if getattr(arrays, "roc", ()):
            raise ValueError("simulating monitors described by ROC curves is not supported yet")
        catch = np.asarray(arrays.detection.toarray(), dtype=float)
        catch[arrays.compliant] = arrays.false_positive
        exponential = arrays.detection_model == "exponential"
        x = np.maximum(np.asarray(rates, dtype=float), 0.0)
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
            rates=x if exponential else np.minimum(x, 1.0),
            cost=arrays.cost.copy(),
            risk_aversion=arrays.risk_aversion,
            exponential=exponential,
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

    def with_agent(self, gain: FloatArray, risk_aversion: float) -> Game:
        """The same game played by another kind of agent (its gains and risk aversion)."""
        return replace(self, gain=np.array(gain, dtype=float), risk_aversion=float(risk_aversion))

    def utilities(self) -> tuple[FloatArray, FloatArray]:
        """u(g_i - g_0) and u(g_i - g_0 - F_i): an action's utility when free and when caught.

        Wealth is relative to the compliant gain, as everywhere in deter (the comparisons
        of CARA utilities are unchanged by that shift, up to a positive factor).
        """
        relative = self.gain - self.gain[self.compliant]
        r = self.risk_aversion
        top = float(np.max(relative, initial=0.0))
        if r < 0 and -r * top > SEEKING_SHIFT:
            # A risk-seeking agent's exp(|r| w) would leave binary64: measure wealth from the
            # best outcome instead (another positive affine map of u, so the same choices);
            # outcomes below it by more than e^-745 then share the utility -1/|r|.
            relative = relative - top
        return utility(relative, r), utility(relative - self.penalty, r)

    def stretches(self) -> tuple[FloatArray, BoolArray]:
        """The coordinated schedule as stretches of U: (lengths (S,), inspecting (S, M)).

        The set of monitors running changes only where U crosses some s_j mod 1 or
        s_j + x_j mod 1, so the schedule is a finite list of stretches.
        """
        starts, x = self.starts, self.rates
        cuts = np.unique(np.concatenate(([0.0, 1.0], starts, (starts + x) % 1.0)))
        lengths = np.diff(cuts)
        middles = cuts[:-1] + lengths / 2
        inspecting = ((middles[:, None] - starts[None, :]) % 1.0) < x[None, :]
        return lengths, inspecting

    def monitor_catch(self) -> FloatArray:
        """(n_actions, n_monitors): the chance that monitor j, when it works on an episode,
        catches action i (flags the compliant one): q_ij, or 1 - (1 - q_ij)^{x_j} under
        exponential detection, where it works on every episode at intensity x_j."""
        if not self.exponential:
            return self.catch
        return np.asarray(-np.expm1(self.rates[None, :] * np.log1p(-self.catch)))

    def episode_spend(self, working: BoolArray) -> FloatArray:
        """Each agent's oversight spend in one episode, from which monitors worked on it
        (``working``, (M, K)): sum_j c_j 1{j inspected}, or c.x under exponential detection."""
        if self.exponential:
            return np.full(working.shape[1], float(self.cost @ self.rates))
        return np.asarray(self.cost @ working)

    def schedule_detection(self, schedule: str) -> FloatArray:
        """The exact P(caught) of every action under ``schedule`` (compliant: P(false flag)).

        independent: 1 - prod_j (1 - q_ij x_j). coordinated: a finite sum over the
        schedule's stretches of length * (1 - prod_{j inspecting} (1 - q_ij)); when
        sum_j x_j <= 1 at most one monitor inspects each episode and this is
        sum_j q_ij x_j, the model's P_i.
        """
        q, x = self.catch, self.rates
        if x.size == 0:
            return np.zeros(self.n_actions)
        if self.exponential:  # -expm1(sum_j x_j ln(1 - q_ij)), as solver/model/detection.py
            return np.asarray(-np.expm1(np.log1p(-q) @ x))
        if schedule == "independent":
            return np.asarray(1.0 - np.prod(1.0 - q * x[None, :], axis=1))
        lengths, inspecting = self.stretches()
        escape = np.prod(np.where(inspecting[:, None, :], 1.0 - q[None, :, :], 1.0), axis=2)
        return np.asarray(np.clip(1.0 - lengths @ escape, 0.0, 1.0))

    def schedule_spend(self, schedule: str) -> tuple[float, float]:
        """Mean and variance of one episode's oversight spend sum_j c_j 1{j runs}."""
        c, x = self.cost, self.rates
        mean = float(c @ x)
        if x.size == 0 or self.exponential:  # a fixed spend c.x every episode
            return mean, 0.0
        if schedule == "independent":
            return mean, float(np.sum(c * c * x * (1 - x)))
        lengths, inspecting = self.stretches()
        spend = inspecting.astype(float) @ c
        return mean, max(0.0, float(lengths @ (spend * spend)) - mean * mean)
