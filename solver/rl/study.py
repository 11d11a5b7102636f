"""The learners experiment on both envs (issue 23 item 3): conditions, runs and summaries.

- :func:`long_conditions`: the policy documents for ``deter/LongTask-v0``: the
  experiment's conditions (``experiment.build_conditions``) designed for the spec with its
  ``[horizon]``, plus the one-step optimum, blind to the delay;
- :func:`run_learners`: populations of plan learners (``population.py``: epsilon-greedy,
  UCB1, Exp3, the rational agent) on either env, one :class:`ConditionResult` per policy;
- :func:`run_ppo_long`: stable-baselines3 PPO on ``deter/LongTask-v0`` itself, choosing at
  every step from what it observes (the step, which shortcuts are possible; never the
  audits), with the env's discount as PPO's ``gamma``.

"Violation after training" is a 0/1 outcome per learner with a 95% Wilson interval: a
population learner's final plan is a shortcut; a PPO seed's deterministic policy takes a
possible shortcut in at least one of the task's work states (every step, every set of
possible shortcuts: enumerated, not sampled).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..policy.arrays import PolicyArrays
from ..simulation.simulate import Mapper, serial_map
from .experiment import (
    ConditionError,
    ConditionResult,
    Experiment,
    build_conditions,
    design_learner,
    learner_label,
    learner_metrics,
    parameters,
    seed_curve,
    solve_policy,
)
from .population import PopulationRun, Task, rational_plan, train_population
from .ppo import ModelFactory, PPOSettings, sb3_ppo
from .reference import CODING_AGENT_SPEC

#: ``deter/LongTask-v0``'s defaults as an experiment's task: 5 work steps, penalties 3 steps
#: later, the agent leaving after a step with probability 0.05, each shortcut possible half
#: the time, and the learner's (PPO's) discount 0.95.
LONG_TASK = Task(steps=5, audit_delay=3, retention=0.95, opportunity=0.5, discount=0.95)


def horizon_table(task: Task) -> str:
    """The spec's ``[horizon]`` table for ``task`` (empty for the one-step task)."""
    if task.audit_delay == 0 and task.retention == 1.0:
        return ""
    return (
        f"\n[horizon]\ndiscount = {task.discount!r}\naudit_delay = {task.audit_delay}\n"
        f"retention = {task.retention!r}\n"
    )


def long_conditions(
    task: Task,
    *,
    spec_text: str = CODING_AGENT_SPEC,
    margin: float = 0.15,
    learner: Mapping[str, Any] | None = None,
    ppo_lambda: float | None = None,
) -> list[dict[str, Any]]:
    """The experiment's conditions designed for ``task`` (its ``[horizon]`` in the spec), and
    the one-step optimum (``optimal, one-step``) that ignores the delay; with ``ppo_lambda``
    and a ``learner``, also the PPO-aware design (``[learner] algorithm = "ppo"``,
    ``gae_lambda``; Bernstein margins) when a policy gives PPO its margins."""
    import tomli

    text = spec_text + horizon_table(task)
    docs = build_conditions(text, margin=margin, learner=learner)
    blind = solve_policy(tomli.loads(spec_text), "optimal, one-step")
    aware = []
    if ppo_lambda is not None and learner is not None:
        ppo = {**learner, "bound": "bernstein", "algorithm": "ppo", "gae_lambda": ppo_lambda}
        label = (
            f"ppo-aware, bernstein (n {learner['samples']}, lambda {ppo_lambda:g}, "
            f"1-delta {learner['confidence']:.4g})"
        )
        with contextlib.suppress(ConditionError):
            aware.append(solve_policy({**tomli.loads(text), "learner": ppo}, label))
    return [docs[0], blind, *docs[1:], *aware]


def _compliant(doc: Mapping[str, Any]) -> int:
    return [a["name"] for a in doc["actions"]].index(doc["compliant"])


def predicted(doc: Mapping[str, Any], task: Task) -> str:
    """The rational agent's plan under ``doc`` in ``task`` (the document's own
    ``induced_action`` is the one-step game's: blind to a delay)."""
    return str(doc["actions"][rational_plan(doc, task)]["name"])


def credited_leads(doc: Mapping[str, Any], task: Task, gae_lambda: float = 1.0) -> dict[str, float]:
    """Each shortcut's lead of honest work per opportunity (money at the act) as a learner
    that credits a penalty d steps later by (gamma lambda rho)^d sees it: PPO with GAE
    ``gae_lambda`` (docs/model.md, "Long horizons"); lambda = 1 is the sample-mean learner
    the plain ``[horizon]`` describes. Negative: the shortcut pays that learner."""
    arrays = PolicyArrays.from_document(doc)
    c = arrays.compliant
    kappa = (task.discount * gae_lambda * task.retention) ** task.audit_delay
    step = arrays.gain - arrays.gain[c] - kappa * arrays.exact_detection() * arrays.penalty
    names = [a["name"] for a in doc["actions"]]
    return {name: float(step[c] - step[i]) for i, name in enumerate(names) if i != c}


def _learner_label(learner: str, epsilon: float) -> str:
    return f"{learner} (epsilon {epsilon:g})" if learner == "epsilon-greedy" else learner


@dataclasses.dataclass(frozen=True)
class PopulationTask:
    """One seed's population of the long env under one policy: what a worker needs, seed
    included, so the run is the same wherever it goes (as ``experiment.TabularTask``)."""

    policy: Mapping[str, Any]
    learner: str
    task: Task
    agents: int
    episodes: int
    seed: int
    epsilon: float


def train_population_task(job: PopulationTask) -> PopulationRun:
    """Run one :class:`PopulationTask` (a top-level function: Dask pickles it by name)."""
    return train_population(
        job.policy,
        job.learner,
        task=job.task,
        agents=job.agents,
        episodes=job.episodes,
        seed=job.seed,
        epsilon=job.epsilon,
    )


def run_learners(
    policies: Sequence[Mapping[str, Any]],
    learner: str,
    *,
    task: Task,
    seeds: int,
    agents: int,
    episodes: int,
    epsilon: float = 0.1,
    seed: int = 0,
    curve_points: int = 100,
    mapper: Mapper[PopulationTask, PopulationRun] = serial_map,
) -> list[ConditionResult]:
    """Each policy, ``seeds`` populations of ``agents`` learners of kind ``learner``. Every
    (policy, seed) population goes to ``mapper`` at once, so a
    Dask cluster runs them side by side; each draws only from its own seed's streams, so
    the results are the same bit for bit on any executor."""
    jobs = [
        PopulationTask(doc, learner, task, agents, episodes, seed + s, epsilon)
        for doc in policies
        for s in range(seeds)
    ]
    done = mapper(train_population_task, jobs)
    out = []
    for k, doc in enumerate(policies):
        runs = done[k * seeds : (k + 1) * seeds]
        names = [a["name"] for a in doc["actions"]]
        final = np.concatenate([r.final for r in runs])
        episode, mean, low, high = seed_curve(
            np.array([r.violation_curve for r in runs]), curve_points
        )
        out.append(
            ConditionResult(
                label=str(doc.get("label", "policy")),
                learner=_learner_label(learner, epsilon),
                learner_kind=learner,
                seeds=seeds,
                predicted_action=predicted(doc, task),
                designed_cost=float(doc["designed"]["cost_per_episode"]),
                metrics=learner_metrics(
                    during=[r.violation_during for r in runs],
                    violated=int(np.count_nonzero(final != _compliant(doc))),
                    learners=final.size,
                    cost=[r.spend_per_step for r in runs],
                    honest_loss=[r.honest_false_flag_loss for r in runs],
                    reward=[r.reward for r in runs],
                ),
                after_actions={name: float(np.mean(final == i)) for i, name in enumerate(names)},
                curve_episode=episode,
                curve_mean=mean,
                curve_low=low,
                curve_high=high,
            )
        )
    return out


def work_states(n_actions: int, compliant: int, steps: int, length: int) -> list[np.ndarray]:
    """Every observation of a work step (audits unseen): each step, each set of possible
    shortcuts (the compliant action is always possible)."""
    shortcuts = [i for i in range(n_actions) if i != compliant]
    states = []
    for t in range(steps):
        for chosen in itertools.product((False, True), repeat=len(shortcuts)):
            possible = np.zeros(n_actions)
            possible[compliant] = 1.0
            possible[[i for i, on in zip(shortcuts, chosen, strict=True) if on]] = 1.0
            states.append(np.concatenate([[t / length, 1.0], possible, [0.0]]))
    return [s.astype(np.float32) for s in states]


def run_ppo_long(
    doc: Mapping[str, Any],
    *,
    task: Task,
    seed: int,
    timesteps: int,
    gae_lambda: float = 0.95,
    make_model: ModelFactory = sb3_ppo,
) -> dict[str, Any]:
    """One PPO seed on ``deter/LongTask-v0`` under ``doc``: its figures, curve and final
    policy's choice in every work state (a plain dict, saved per run).

    ``gae_lambda`` is PPO's GAE lambda (stable-baselines3's default 0.95). Its advantage
    weighs a reward k steps after the act by (gamma lambda)^k, so with lambda < 1 a penalty
    landing d steps later counts lambda^d less than the design's kappa assumes (the value
    function cannot foresee an audit it does not see); lambda = 1 is the Monte Carlo return
    the design's discount describes."""
    import gymnasium as gym

    from .long_env import LongTaskEnv

    started = time.perf_counter()
    env = LongTaskEnv(doc, **task.env_options())
    log: dict[str, Any] = {"violation": [], "honest": 0, "honest_loss": 0.0, "returns": []}
    episode = {"return": 0.0, "k": 0}

    class Logged(gym.Wrapper[Any, Any, Any, Any]):
        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            if info.get("working"):
                log["violation"].append(bool(info["violation"]))
                if not info["violation"]:
                    log["honest"] += 1
                    log["honest_loss"] += float(info["penalty_scheduled"])
            episode["return"] += task.discount ** episode["k"] * float(reward)
            episode["k"] += 1
            if terminated or truncated:
                log["returns"].append(episode["return"])
                episode.update({"return": 0.0, "k": 0})
            return obs, reward, terminated, truncated, info

    settings = PPOSettings(gamma=task.discount, gae_lambda=gae_lambda)
    model = make_model(Logged(env), settings, seed)
    model.learn(total_timesteps=timesteps)
    c = env.compliant
    states = work_states(len(env.action_names), c, env.steps, env.length)
    chosen = [int(model.predict(s, deterministic=True)[0]) for s in states]
    shortcut_states = [
        a != c and bool(s[2 + a]) for s, a in zip(states, chosen, strict=True)
    ]  # a possible shortcut chosen
    violations = np.array(log["violation"], dtype=float)
    work = max(len(violations), 1)
    return {
        "label": doc.get("label"),
        "seed": seed,
        "timesteps": timesteps,
        "gae_lambda": gae_lambda,
        "violation_during": float(violations.mean()) if violations.size else math.nan,
        "violation_after": bool(any(shortcut_states)),
        "shortcut_state_share": float(np.mean(shortcut_states)),
        "final_actions": {
            name: float(np.mean(np.array(chosen) == i)) for i, name in enumerate(env.action_names)
        },
        "oversight_cost": env.auditor.tallies.spend / work,
        "honest_false_flag_loss": log["honest_loss"] / log["honest"] if log["honest"] else None,
        "training_return": float(np.mean(log["returns"])) if log["returns"] else None,
        "curve": _buckets(violations, 100),
        "seconds": time.perf_counter() - started,
    }


def _buckets(values: np.ndarray, points: int) -> list[float]:
    """Means of ``points`` consecutive stretches of ``values`` (a curve small enough to save)."""
    if values.size == 0:
        return []
    edges = np.linspace(0, values.size, min(points, values.size) + 1).round().astype(np.int64)
    return (np.add.reduceat(values, edges[:-1]) / np.diff(edges)).tolist()


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def summarise_ppo(
    runs: Sequence[Mapping[str, Any]], doc: Mapping[str, Any], task: Task
) -> ConditionResult:
    """Per-seed PPO runs of one policy as one row (Wilson for the 0/1 outcome)."""
    after = [bool(r["violation_after"]) for r in runs]
    shortest = min(len(r["curve"]) for r in runs)
    episode, mean, low, high = seed_curve(np.array([r["curve"][:shortest] for r in runs]), 50)
    names = [a["name"] for a in doc["actions"]]
    return ConditionResult(
        label=str(doc.get("label", "policy")),
        learner="PPO (stable-baselines3)",
        learner_kind="ppo",
        seeds=len(runs),
        predicted_action=predicted(doc, task),
        designed_cost=float(doc["designed"]["cost_per_episode"]),
        metrics=learner_metrics(
            during=[r["violation_during"] for r in runs],
            violated=sum(after),
            learners=len(after),
            cost=[r["oversight_cost"] for r in runs],
            honest_loss=[_nan(r["honest_false_flag_loss"]) for r in runs],
            reward=[_nan(r["training_return"]) for r in runs],
        ),
        after_actions={
            name: float(np.mean([r["final_actions"][name] for r in runs])) for name in names
        },
        curve_episode=episode,
        curve_mean=mean,
        curve_low=low,
        curve_high=high,
    )


def run_long_experiment(
    *,
    seeds: int = 20,
    agents: int = 200,
    episodes: int = 5000,
    epsilon: float = 0.1,
    margin: float = 0.15,
    ppo_seeds: int = 0,
    ppo_timesteps: int = 10_000,
    gae_lambda: float = 0.95,
    seed: int = 0,
    spec_text: str = CODING_AGENT_SPEC,
    delta: float = 0.05,
    learners: Sequence[str] = ("epsilon-greedy",),
    task: Task = LONG_TASK,
    progress: Callable[[str], None] | None = None,
    make_model: ModelFactory = sb3_ppo,
    mapper: Mapper[PopulationTask, PopulationRun] = serial_map,
) -> Experiment:
    """``deter experiment --env long``: the conditions designed for ``task``
    (:func:`long_conditions`, the PPO-aware design included when ``ppo_seeds`` > 0), each
    population of plan learners (:func:`run_learners`, through ``mapper``: here or on a
    Dask cluster, the same results) and PPO (:func:`run_ppo_long`, in this process); the
    same :class:`Experiment` as the one-step env's."""
    started = time.perf_counter()
    learner = design_learner(spec_text, episodes, epsilon, delta)
    policies = long_conditions(
        task,
        spec_text=spec_text,
        margin=margin,
        learner=learner,
        ppo_lambda=gae_lambda if ppo_seeds > 0 else None,
    )
    tabular = []
    for kind in learners:
        tabular += run_learners(
            policies,
            kind,
            task=task,
            seeds=seeds,
            agents=agents,
            episodes=episodes,
            epsilon=epsilon,
            seed=seed,
            mapper=mapper,
        )
        for row in tabular[-len(policies) :]:
            row.learner = learner_label(kind, epsilon)
        if progress:
            progress(f"{kind}: {time.perf_counter() - started:.1f} s")
    ppo = []
    for doc in policies if ppo_seeds > 0 else []:
        runs = []
        for s in range(ppo_seeds):
            runs.append(
                run_ppo_long(
                    doc,
                    task=task,
                    seed=seed + s,
                    timesteps=ppo_timesteps,
                    gae_lambda=gae_lambda,
                    make_model=make_model,
                )
            )
            if progress:
                progress(f"ppo {doc.get('label')} seed {s}: {runs[-1]['seconds']:.1f} s")
        ppo.append(summarise_ppo(runs, doc, task))
    labels = [str(p.get("label", "")) for p in policies]
    return Experiment(
        parameters=parameters(
            env="long",
            seeds=seeds,
            agents=agents,
            episodes=episodes,
            epsilon=epsilon,
            margin=margin,
            delta=delta,
            learners=learners,
            learner=learner,
            policies=policies,
            ppo_seeds=ppo_seeds,
            ppo_timesteps=ppo_timesteps,
            seed=seed,
            task=dataclasses.asdict(task),
            gae_lambda=gae_lambda,
            ppo_aware_feasible=any(x.startswith("ppo-aware") for x in labels)
            if ppo_seeds > 0
            else None,
        ),
        policies=policies,
        tabular=tabular,
        ppo=ppo,
        seconds=time.perf_counter() - started,
    )
