"""Populations of learners on ``deter/LongTask-v0``, vectorised (issue 23 item 3).

The env (``long_env.py``) steps one agent at a time in Python; this module plays the same
task for K agents at once, with the runtime auditor's batch path (:meth:`Auditor.run_batch`)
judging every work step. The one-step ``deter/CodingTask-v0`` is its special case
``Task()`` (one step, no delay, always there, every shortcut possible), so one runner serves
both envs.

Each learner chooses, once per episode, a *plan*: an action i, meaning "take i at every
step where it is possible, else work honestly" (the compliant action is the plan of working
honestly throughout). Its payoff is the episode's discounted return, which the env's agent
would see (gains at once, penalties ``audit_delay`` steps later, nothing once it has left).
With audits unseen a plan is all a policy of the task can condition on that matters (docs/
model.md, "Long horizons": every step stands alone), and the expected return of plan i is

    sum_{t < T} (gamma rho)^t [q (g_i - kappa P_i F_i) + (1 - q)(-kappa P_0 F_fp)],

so the plans rank as the model's one-step constraint with kappa ranks the actions. The
learners are the experiment's (``learners.py``: epsilon-greedy, Hedge, Exp3, rational): a
plan is one arm, its payoff the return; the no-regret learners rescale it into [0, 1] with
the task's known range (:func:`return_range`). Hedge, with full information, also gets what
every other plan would have returned this episode, played by a second auditor of the same
policy on its own seed stream (as the one-step experiment does); the rational agent takes
the plan of the best expected return in the task (:func:`rational_plan`), kappa included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..policy.arrays import PolicyArrays
from ..policy.runtime import Auditor
from ..simulation.agents import exp3_gamma
from .learners import LEARNERS, BanditExp3, EpsilonGreedy, Hedge, Learner, Rational, hedge_rate

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = ["LEARNERS", "Task", "plan_values", "play_episode", "rational_plan", "train_population"]


@dataclass(frozen=True)
class Task:
    """The shape of an episode of ``deter/LongTask-v0`` and the learner's discount.

    The defaults are the one-step ``deter/CodingTask-v0``.
    """

    steps: int = 1
    audit_delay: int = 0
    retention: float = 1.0
    opportunity: float = 1.0
    discount: float = 1.0  # the learner's gamma (PPO's ``gamma``)
    reward_noise: float = 0.0

    @property
    def present_value(self) -> float:
        """kappa = (gamma rho)^d (``solver/model/horizon.py``)."""
        return float((self.discount * self.retention) ** self.audit_delay)

    def env_options(self) -> dict[str, Any]:
        """The ``LongTaskEnv`` keywords of this task (the discount is the learner's)."""
        return {
            "steps": self.steps,
            "audit_delay": self.audit_delay,
            "retention": self.retention,
            "opportunity": self.opportunity,
            "reward_noise": self.reward_noise,
        }


def plan_values(policy: Mapping[str, Any], task: Task) -> FloatArray:
    """Each plan's expected discounted return (the formula in the module docstring)."""
    arrays = PolicyArrays.from_document(policy)
    c = arrays.compliant
    kappa = task.present_value
    step = arrays.gain - arrays.gain[c] - kappa * arrays.exact_detection() * arrays.penalty
    honest = step[c]
    per_step = task.opportunity * step + (1.0 - task.opportunity) * honest
    per_step[c] = honest
    horizon = sum((task.discount * task.retention) ** t for t in range(task.steps))
    return np.asarray(per_step * horizon, dtype=float)


def rational_plan(policy: Mapping[str, Any], task: Task, tolerance: float = 1e-9) -> int:
    """The plan an agent that knows the policy and the task takes: the best expected return,
    ties (within ``tolerance`` relative) to honest work, as deter's verification breaks them."""
    values = plan_values(policy, task)
    c = PolicyArrays.from_document(policy).compliant
    best = int(np.argmax(values))
    if values[best] <= values[c] + tolerance * max(1.0, abs(values[best])):
        return c
    return best


def return_range(policy: Mapping[str, Any], task: Task) -> tuple[float, float]:
    """A range every noise-free episode return lies in: [-S F_max, S g_max], S the discounted
    count of work steps (returns with reward noise are clipped to it)."""
    arrays = PolicyArrays.from_document(policy)
    gains = arrays.gain - arrays.gain[arrays.compliant]
    s = sum(task.discount**t for t in range(task.steps))
    return -s * float(max(arrays.penalty.max(), 0.0)), s * float(max(gains.max(), 0.0))


@dataclass(frozen=True)
class Episodes:
    """One episode of K agents: returns and what was done at the work steps."""

    returns: FloatArray  # (K,) discounted return
    work_steps: IntArray  # (K,) work steps played (the agent may leave early)
    shortcuts: IntArray  # (K,) work steps on which a shortcut was taken
    honest_penalty: float  # false-flag penalties charged for honest steps (when judged)
    honest_steps: int


def play_episode(
    auditor: Auditor,
    plans: IntArray,
    task: Task,
    rng: np.random.Generator,
) -> Episodes:
    """One episode of ``deter/LongTask-v0`` for K agents following ``plans`` (the env's rules:
    ``long_env.py``; the auditor judges each work step when it happens)."""
    a = auditor.arrays
    c = a.compliant
    gains = a.gain - a.gain[c]
    k = plans.shape[0]
    length = task.steps + task.audit_delay
    due = np.zeros((k, length + 1))
    alive = np.ones(k, dtype=bool)
    returns = np.zeros(k)
    work = np.zeros(k, dtype=np.int64)
    shortcuts = np.zeros(k, dtype=np.int64)
    honest_penalty, honest_steps = 0.0, 0
    weight = 1.0
    for t in range(length):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        reward = -due[idx, t]
        if t < task.steps:
            possible = rng.random(idx.size) < task.opportunity
            taken = np.where(possible, plans[idx], c).astype(np.int64)
            penalty, _, _ = auditor.run_batch(taken)
            due[idx, t + task.audit_delay] += penalty
            reward = reward + gains[taken]
            if task.reward_noise > 0:
                reward = reward + rng.normal(0.0, task.reward_noise, idx.size)
            honest = taken == c
            honest_penalty += float(penalty[honest].sum())
            honest_steps += int(np.count_nonzero(honest))
            work[idx] += 1
            shortcuts[idx] += ~honest
        returns[idx] += weight * reward
        weight *= task.discount
        if t + 1 < length:  # after each step the agent leaves with probability 1 - rho
            alive[idx] = rng.random(idx.size) < task.retention
    return Episodes(returns, work, shortcuts, honest_penalty, honest_steps)


def build_learner(
    learner: str,
    policy: Mapping[str, Any],
    task: Task,
    *,
    agents: int,
    episodes: int,
    epsilon: float = 0.1,
    exploration: float | None = None,
) -> Learner:
    """A population of ``agents`` learners of kind ``learner`` (one of :data:`LEARNERS`)
    choosing plans in ``task``; ``exploration``: Exp3's gamma (default tuned to
    ``episodes``)."""
    if learner not in LEARNERS:
        raise ValueError(f"unknown learner {learner!r}; choose one of {', '.join(LEARNERS)}")
    n = len(policy["actions"])
    if learner == "epsilon-greedy":
        return EpsilonGreedy(agents, n, epsilon)
    if learner == "rational":
        return Rational(agents, rational_plan(policy, task))
    low, high = return_range(policy, task)
    if learner == "hedge":
        return Hedge(agents, n, hedge_rate(n, episodes), low, high)
    gamma = exploration if exploration is not None else exp3_gamma(n, episodes)
    return BanditExp3(agents, n, gamma, low, high)


@dataclass(frozen=True)
class PopulationRun:
    """One seed's population of learners trained under one policy."""

    violation_curve: FloatArray  # (episodes,) share of work steps with a shortcut
    final: IntArray  # (agents,) each learner's plan after training
    violation_during: float
    spend_per_step: float  # realised oversight spend per work step
    honest_false_flag_loss: float  # penalties charged per honest work step
    reward: float  # mean discounted return per episode


def train_population(
    policy: Mapping[str, Any],
    learner: str,
    *,
    task: Task,
    agents: int,
    episodes: int,
    seed: int,
    epsilon: float = 0.1,
    exploration: float | None = None,
) -> PopulationRun:
    """Train ``agents`` learners for ``episodes`` episodes of ``task`` under ``policy``.

    One seed gives independent streams (``SeedSequence(seed).spawn(3)``): the learners' and
    the task's (opportunities, departures, noise), the auditor's, and Hedge's counterfactuals.
    """
    agent_seed, auditor_seed, other_seed = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(agent_seed)
    auditor = Auditor(policy, seed=auditor_seed, warn=False)
    agent = build_learner(
        learner,
        policy,
        task,
        agents=agents,
        episodes=episodes,
        epsilon=epsilon,
        exploration=exploration,
    )
    # Hedge's counterfactual returns: a second auditor and task stream, off the tallies
    other = Auditor(policy, seed=other_seed, warn=False) if agent.full_information else None
    other_rng = np.random.default_rng(other_seed.spawn(1)[0])
    n = len(policy["actions"])
    violation = np.empty(episodes)
    returns = np.empty(episodes)
    work_total = 0
    honest_penalty, honest_steps = 0.0, 0
    for e in range(episodes):
        plans = agent.choose(rng, e)
        played = play_episode(auditor, plans, task, rng)
        every = None
        if other is not None:
            every = np.stack(
                [
                    play_episode(other, np.full(agents, i), task, other_rng).returns
                    for i in range(n)
                ],
                axis=1,
            )
            every[np.arange(agents), plans] = played.returns
        agent.update(plans, played.returns, every)
        steps = int(played.work_steps.sum())
        work_total += steps
        violation[e] = played.shortcuts.sum() / steps if steps else 0.0
        returns[e] = played.returns.mean()
        honest_penalty += played.honest_penalty
        honest_steps += played.honest_steps
    return PopulationRun(
        violation_curve=violation,
        final=agent.final(),
        violation_during=float(violation.mean()),
        spend_per_step=auditor.tallies.spend / work_total if work_total else math.nan,
        honest_false_flag_loss=honest_penalty / honest_steps if honest_steps else math.nan,
        reward=float(returns.mean()),
    )
