"""The experiment: learning agents trained under no oversight, deter's policies and a judge.

Conditions (each a policy document the runtime auditor runs; see docs/experiments.md):

- ``none``: no monitor runs;
- ``optimal``: deter's least-cost policy for the spec as written;
- ``optimal x0.8`` / ``optimal x1.2``: its rates scaled;
- ``optimal, margin m``: deter's least-cost policy when compliance must beat every
  shortcut by ``m`` (``agent.margin``);
- ``judge``: an always-on learned judge, like a reward model: ``llm_judge`` at rate 1 and
  nothing else, penalising everything it flags by the penalty cap, false flags on honest
  work included (it cannot tell them apart);
- ``judge + deter``: the judge at rate 1 as a monitor in the spec (``min_rate = 1``), and
  deter's least-cost audits designed around it;
- ``learning-aware``: deter's least-cost policy for the spec with a ``[learner]`` whose
  ``samples`` are the fewest an epsilon-greedy learner is expected to have of each action
  (epsilon x episodes / actions) and whose confidence is 1 - delta / deviations (so the
  chance that any shortcut outranks compliance is at most delta; docs/model.md, "Learners").

Learners: populations of tabular agents for many seeds (``tabular.py``, ``learners.py``:
epsilon-greedy, Hedge with full information, Exp3 with bandit feedback, and the rational
agent that knows the policy, as a check) and, optionally, stable-baselines3 PPO on the
wrapped Gymnasium env (``deter[experiment]``). The learning-aware policy is built with
each of the two bounds (``hoeffding``, ``bernstein``) that give it a policy.
Every figure is a mean over seeds with a 95% t-interval, except the 0/1 outcome
"violation after training", which gets a Wilson interval over the pooled learners (each
tabular agent, each PPO seed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..policy.document import build_policy, derived_figures, scaled, with_rates
from ..results.serialise import envelope
from ..simulation.simulate import Mapper, serial_map
from .ppo import ModelFactory, PPOSettings, sb3_ppo
from .reference import CODING_AGENT_SPEC
from .tabular import TabularRun, train_tabular

#: The coding env's PPO: stable-baselines3's defaults for gamma and GAE lambda (an episode is
#: one step, so neither changes what an act is credited).
CODING_PPO = PPOSettings()

#: Two-sided 97.5% quantiles of Student's t, by degrees of freedom (1..30); normal beyond.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
         2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
         2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def wilson_interval(successes: int, trials: int) -> tuple[float, float, float]:
    """(share, low, high): the 95% Wilson score interval of a binomial share (scipy)."""
    from scipy.stats import binomtest

    if trials == 0:
        return math.nan, math.nan, math.nan
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return successes / trials, float(ci.low), float(ci.high)


def learner_samples(episodes: int, epsilon: float, actions: int) -> int:
    """The samples of each action an epsilon-greedy learner is expected to have from
    exploration alone: epsilon x episodes / actions (at least 1)."""
    return max(1, int(epsilon * episodes / actions))


#: The range of a rate (a violation rate) and of a quantity that cannot be negative (a cost).
RATE = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


def t_interval(
    values: Sequence[float], within: tuple[float, float] = (-math.inf, math.inf)
) -> tuple[float, float, float]:
    """(mean, low, high): a 95% Student-t interval across seeds (NaN when under 2 seeds),
    cut to the quantity's range ``within``: with 2 seeds the t interval is wide, and a cost
    cannot be negative nor a rate above 1."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    q = _T975[x.size - 2] if x.size - 1 <= len(_T975) else 1.959963984540054
    half = q * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, max(within[0], mean - half), min(within[1], mean + half)


# --- the conditions ---------------------------------------------------------------------


class ConditionError(ValueError):
    """A condition's policy does not exist (its spec is infeasible, e.g. a margin no
    monitoring can give): the experiment's options, not a defect."""


def solve_policy(data: Mapping[str, Any], label: str) -> dict[str, Any]:
    from ..engine.solve import solve
    from ..spec.document import Spec

    spec = Spec.model_validate(data)
    result = solve(spec)
    if result.status != "optimal":
        why = f": {result.message}" if result.message else ""
        raise ConditionError(f"condition {label!r}: no policy ({result.status}{why})")
    return build_policy(spec, result, label=label)


def build_conditions(
    spec_text: str = CODING_AGENT_SPEC,
    *,
    margin: float = 0.5,
    judge: str = "llm_judge",
    judge_penalty: float | None = None,
    learner: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The experiment's policy documents, in report order (see the module docstring)."""
    import tomli

    base = tomli.loads(spec_text)
    optimal = solve_policy(base, "optimal")
    if judge not in optimal["rates"]:
        raise ValueError(f"unknown judge monitor {judge!r}")
    zero = {name: 0.0 for name in optimal["rates"]}
    with_margin = {**base, "agent": {**base.get("agent", {}), "margin": margin}}
    around_judge = {
        **base,
        "monitors": [
            {**m, "min_rate": 1.0, "max_rate": 1.0} if m["name"] == judge else m
            for m in base["monitors"]
        ],
    }
    cap = judge_penalty if judge_penalty is not None else max(optimal["penalties"].values())
    judge_only = with_rates(
        optimal, {**zero, judge: 1.0}, label="judge", false_positive_penalty=cap
    )
    judge_only["penalties"] = {a: cap for a in judge_only["penalties"]}
    judge_only["designed"] = derived_figures(judge_only)
    return [
        with_rates(optimal, zero, label="none"),
        optimal,
        scaled(optimal, 0.8, label="optimal x0.8"),
        scaled(optimal, 1.2, label="optimal x1.2"),
        solve_policy(with_margin, f"optimal, margin {margin:g}"),
        judge_only,
        solve_policy(around_judge, "judge + deter"),
        *[
            doc
            for bound in ("hoeffding", "bernstein")
            if (doc := _learning_aware(base, learner, bound)) is not None
        ],
    ]


def _learning_aware(
    base: Mapping[str, Any], learner: Mapping[str, Any] | None, bound: str = "hoeffding"
) -> dict[str, Any] | None:
    """deter's policy for ``base`` with a ``[learner]`` table (solver/model/learning.py) and
    its ``bound``, or None when there is no learner or no policy gives it its margins (too
    few samples for the penalty range: a margin exceeds what the monitors can add; the run's
    parameters say so)."""
    if learner is None:
        return None
    label = f"learning-aware (n {learner['samples']}, 1-delta {learner['confidence']:.4g})"
    if bound != "hoeffding":
        label = f"learning-aware, {bound} (n {learner['samples']}, 1-delta " + (
            f"{learner['confidence']:.4g})"
        )
    try:
        return solve_policy({**base, "learner": {**learner, "bound": bound}}, label)
    except ConditionError:
        return None


# --- results ----------------------------------------------------------------------------


@dataclass
class ConditionResult:
    label: str
    learner: str
    seeds: int
    predicted_action: str  # a rational agent's best response (the equilibrium prediction)
    designed_cost: float
    metrics: dict[str, tuple[float, float, float]]  # name -> (mean, low, high) over seeds
    after_actions: dict[str, float]  # share of final policies taking each action
    curve_episode: list[int] = field(default_factory=list)
    curve_mean: list[float] = field(default_factory=list)
    curve_low: list[float] = field(default_factory=list)
    curve_high: list[float] = field(default_factory=list)
    learner_kind: str = "epsilon-greedy"  # learners.LEARNERS, or "ppo"

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "label": self.label,
            "learner": self.learner,
            "learner_kind": self.learner_kind,
            "seeds": self.seeds,
            "predicted_action": self.predicted_action,
            "designed_cost": self.designed_cost,
            "after_actions": self.after_actions,
        }
        for name, (mean, low, high) in self.metrics.items():
            doc[name] = _json(mean)
            doc[f"{name}_ci"] = [_json(low), _json(high)]
        doc["curve"] = {
            "episode": self.curve_episode,
            "violation_rate": [_json(v) for v in self.curve_mean],
            "low": [_json(v) for v in self.curve_low],
            "high": [_json(v) for v in self.curve_high],
        }
        return doc


def learner_metrics(
    *,
    during: Sequence[float],
    violated: int,
    learners: int,
    cost: Sequence[float],
    honest_loss: Sequence[float],
    reward: Sequence[float],
) -> dict[str, tuple[float, float, float]]:
    """The metrics of one condition (``ConditionResult.metrics``), one builder for every
    learner and env: per-seed figures with t-intervals, and the 0/1 "violation after
    training" of ``violated`` of ``learners`` learners with a Wilson interval. ``cost`` is
    the oversight spend in the env's own unit (per episode, or per work step on the long
    env); NaN marks a seed without the figure."""
    return {
        "violation_during": t_interval(during, RATE),
        "violation_after": wilson_interval(violated, learners),
        "oversight_cost": t_interval(cost, NON_NEGATIVE),
        "honest_false_flag_loss": t_interval(honest_loss, NON_NEGATIVE),
        "training_reward": t_interval(reward),
    }


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None


def seed_curve(
    runs: np.ndarray, points: int
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Bucket means of per-seed curves (seeds, T), with a t-interval across seeds."""
    t = runs.shape[1]
    edges = np.linspace(0, t, min(points, t) + 1).round().astype(np.int64)
    buckets = np.add.reduceat(runs, edges[:-1], axis=1) / np.diff(edges)[None, :]
    stats = [t_interval(buckets[:, b].tolist(), RATE) for b in range(buckets.shape[1])]
    return (
        edges[1:].tolist(),
        [s[0] for s in stats],
        [s[1] if math.isfinite(s[1]) else s[0] for s in stats],
        [s[2] if math.isfinite(s[2]) else s[0] for s in stats],
    )


@dataclass(frozen=True)
class TabularTask:
    """One seed's population under one policy: what a worker needs, seed included, so the
    run is the same wherever it goes."""

    policy: Mapping[str, Any]
    agents: int
    episodes: int
    seed: int
    epsilon: float
    learner: str
    exploration: float | None = None  # Exp3's gamma (None: tuned to the episodes)


def train_task(task: TabularTask) -> TabularRun:
    """Run one :class:`TabularTask` (a top-level function: Dask pickles it by name)."""
    return train_tabular(
        task.policy,
        agents=task.agents,
        episodes=task.episodes,
        seed=task.seed,
        epsilon=task.epsilon,
        learner=task.learner,
        exploration=task.exploration,
    )


def run_tabular(
    policies: Sequence[Mapping[str, Any]],
    *,
    seeds: int,
    agents: int,
    episodes: int,
    epsilon: float = 0.1,
    seed: int = 0,
    curve_points: int = 100,
    learner: str = "epsilon-greedy",
    mapper: Mapper[TabularTask, TabularRun] = serial_map,
    exploration: float | None = None,
) -> list[ConditionResult]:
    """Each policy, ``seeds`` independent populations of ``agents`` learners of kind
    ``learner`` (``learners.py``). Every (policy, seed) run goes to ``mapper`` at once, so a
    Dask cluster (``batch.dask_executor.dask_mapper``) runs them side by side; each run
    draws only from its seed's streams, so the results are the same bit for bit on any
    executor."""
    tasks = [
        TabularTask(doc, agents, episodes, seed + s, epsilon, learner, exploration)
        for doc in policies
        for s in range(seeds)
    ]
    done = mapper(train_task, tasks)
    out = []
    for k, doc in enumerate(policies):
        runs = done[k * seeds : (k + 1) * seeds]
        names = [a["name"] for a in doc["actions"]]
        greedy = np.concatenate([r.greedy for r in runs])
        episode, mean, low, high = seed_curve(
            np.array([r.violation_curve for r in runs]), curve_points
        )
        out.append(
            ConditionResult(
                label=str(doc.get("label", "policy")),
                learner=learner_label(learner, epsilon),
                learner_kind=learner,
                seeds=seeds,
                predicted_action=str(doc["designed"].get("induced_action")),
                designed_cost=float(doc["designed"]["cost_per_episode"]),
                metrics=learner_metrics(
                    during=[r.violation_during for r in runs],
                    violated=int(np.count_nonzero(greedy != _compliant(doc))),
                    learners=greedy.size,
                    cost=[r.spend_per_episode for r in runs],
                    honest_loss=[r.honest_false_flag_loss for r in runs],
                    reward=[r.reward for r in runs],
                ),
                after_actions={name: float(np.mean(greedy == i)) for i, name in enumerate(names)},
                curve_episode=episode,
                curve_mean=mean,
                curve_low=low,
                curve_high=high,
            )
        )
    return out


def run_ppo(
    policies: Sequence[Mapping[str, Any]],
    *,
    seeds: int,
    timesteps: int,
    seed: int = 0,
    curve_points: int = 50,
    progress: Callable[[str], None] | None = None,
    make_model: ModelFactory = sb3_ppo,
    settings: PPOSettings = CODING_PPO,
) -> list[ConditionResult]:
    """PPO on the wrapped reference env, per policy and seed: stable-baselines3's on the CPU
    (``ppo.sb3_ppo``), or any ``make_model`` (the tests' policy-gradient double)."""
    from .env import CodingTaskEnv
    from .wrapper import OversightWrapper

    out = []
    for doc in policies:
        names = [a["name"] for a in doc["actions"]]
        compliant = names.index(doc["compliant"])
        curves, during, after, cost, honest, reward, finals = [], [], [], [], [], [], []
        for s in range(seeds):
            started = time.perf_counter()
            env = OversightWrapper(CodingTaskEnv(), doc, seed=seed + s)
            log = _StepLog()
            model = make_model(_Logged(env, log), settings, seed + s)
            model.learn(total_timesteps=timesteps)
            obs = np.ones((1, 1), dtype=np.float32)
            final = int(model.predict(obs, deterministic=True)[0][0])
            violations = np.array(log.violation[:timesteps], dtype=float)
            curves.append(violations)
            during.append(float(violations.mean()))
            after.append(float(final != compliant))
            finals.append(final)
            tallies = env.auditor.tallies
            cost.append(tallies.spend / max(tallies.episodes, 1))
            honest.append(log.honest_loss / log.honest if log.honest else math.nan)
            reward.append(float(np.mean(log.reward[:timesteps])))
            if progress:
                progress(f"ppo {doc.get('label')} seed {s}: {time.perf_counter() - started:.1f} s")
        episode, mean, low, high = seed_curve(np.array(curves), curve_points)
        out.append(
            ConditionResult(
                label=str(doc.get("label", "policy")),
                learner="PPO (stable-baselines3)",
                learner_kind="ppo",
                seeds=seeds,
                predicted_action=str(doc["designed"].get("induced_action")),
                designed_cost=float(doc["designed"]["cost_per_episode"]),
                metrics=learner_metrics(
                    during=during,
                    violated=int(sum(after)),
                    learners=len(after),
                    cost=cost,
                    honest_loss=honest,
                    reward=reward,
                ),
                after_actions={
                    name: float(np.mean(np.array(finals) == i)) for i, name in enumerate(names)
                },
                curve_episode=episode,
                curve_mean=mean,
                curve_low=low,
                curve_high=high,
            )
        )
    return out


def learner_label(learner: str, epsilon: float) -> str:
    """How a population of ``learner`` is named in the results."""
    return {
        "epsilon-greedy": f"tabular epsilon-greedy (epsilon {epsilon:g})",
        "hedge": "Hedge (full information)",
        "exp3": "Exp3 (bandit feedback)",
        "rational": "rational (knows the policy)",
    }[learner]


def _compliant(doc: Mapping[str, Any]) -> int:
    return [a["name"] for a in doc["actions"]].index(doc["compliant"])


class _StepLog:
    def __init__(self) -> None:
        self.violation: list[bool] = []
        self.reward: list[float] = []
        self.honest = 0
        self.honest_loss = 0.0


def _Logged(env: Any, log: _StepLog) -> Any:
    """``env`` with every step's violation, reward and false-flag loss recorded in ``log``."""
    import gymnasium as gym

    class Logged(gym.Wrapper[Any, Any, Any, Any]):
        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            log.violation.append(bool(info.get("violation")))
            log.reward.append(float(reward))
            if not info.get("violation"):
                log.honest += 1
                log.honest_loss += float(info.get("oversight", {}).get("penalty", 0.0))
            return obs, reward, terminated, truncated, info

    return Logged(env)


# --- the whole experiment ---------------------------------------------------------------


@dataclass
class Experiment:
    parameters: dict[str, Any]
    policies: list[dict[str, Any]]
    tabular: list[ConditionResult]
    ppo: list[ConditionResult]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return envelope(
            "experiment",
            {
                "parameters": self.parameters,
                "policies": self.policies,
                "tabular": [r.to_dict() for r in self.tabular],
                "ppo": [r.to_dict() for r in self.ppo],
                "timing": {"seconds": self.seconds},
            },
        )


def run_experiment(
    *,
    seeds: int = 20,
    agents: int = 200,
    episodes: int = 5000,
    epsilon: float = 0.1,
    margin: float = 0.5,
    ppo_seeds: int = 0,
    ppo_timesteps: int = 10_000,
    seed: int = 0,
    spec_text: str = CODING_AGENT_SPEC,
    delta: float = 0.05,
    learners: Sequence[str] = ("epsilon-greedy",),
    progress: Callable[[str], None] | None = None,
    mapper: Mapper[TabularTask, TabularRun] = serial_map,
) -> Experiment:
    """Build the conditions, train each population of ``learners`` (``learners.py``; every
    seed through ``mapper``: here, or on a Dask cluster with the same results) and PPO when
    ``ppo_seeds`` > 0 (in this process)."""
    started = time.perf_counter()
    learner = design_learner(spec_text, episodes, epsilon, delta)
    policies = build_conditions(spec_text, margin=margin, learner=learner)
    tabular = []
    for kind in learners:
        tabular += run_tabular(
            policies,
            seeds=seeds,
            agents=agents,
            episodes=episodes,
            epsilon=epsilon,
            seed=seed,
            learner=kind,
            mapper=mapper,
        )
        if progress:
            progress(f"{kind}: {time.perf_counter() - started:.1f} s")
    ppo = (
        run_ppo(policies, seeds=ppo_seeds, timesteps=ppo_timesteps, seed=seed, progress=progress)
        if ppo_seeds > 0
        else []
    )
    return Experiment(
        parameters=parameters(
            env="coding",
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
        ),
        policies=policies,
        tabular=tabular,
        ppo=ppo,
        seconds=time.perf_counter() - started,
    )


def design_learner(spec_text: str, episodes: int, epsilon: float, delta: float) -> dict[str, Any]:
    """The learning-aware designs' ``[learner]``: the samples of each action an epsilon-greedy
    learner has from exploration, and 1 - delta / deviations per shortcut (so the chance a
    learner ends on any shortcut is at most delta)."""
    import tomli

    n_actions = len(tomli.loads(spec_text)["actions"])
    return {
        "samples": learner_samples(episodes, epsilon, n_actions),
        "confidence": 1.0 - delta / (n_actions - 1),
    }


def parameters(
    *,
    env: str,
    seeds: int,
    agents: int,
    episodes: int,
    epsilon: float,
    margin: float,
    delta: float,
    learners: Sequence[str],
    learner: Mapping[str, Any],
    policies: Sequence[Mapping[str, Any]],
    ppo_seeds: int,
    ppo_timesteps: int,
    seed: int,
    **more: Any,
) -> dict[str, Any]:
    """An experiment's ``parameters`` (results.json), the same keys for either env, plus
    ``more`` (the long env's task and GAE lambda)."""
    labels = [str(p.get("label", "")) for p in policies]
    return {
        "env": env,
        "seeds": seeds,
        "agents": agents,
        "episodes": episodes,
        "epsilon": epsilon,
        "margin": margin,
        "delta": delta,
        "learners": list(learners),
        "learner": dict(learner),
        "learning_aware_feasible": any(x.startswith("learning-aware") for x in labels),
        "ppo_seeds": ppo_seeds,
        "ppo_timesteps": ppo_timesteps,
        "seed": seed,
        **more,
    }


def markdown_table(results: Sequence[ConditionResult]) -> str:
    """The headline table: each metric as mean [95% CI] over seeds."""

    def cell(value: tuple[float, float, float], digits: int = 3) -> str:
        mean, low, high = value
        if not math.isfinite(mean):
            return "-"
        if not math.isfinite(low):
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    lines = [
        "| policy | predicted | violation during | violation after | oversight cost "
        "| honest loss to false flags | training reward |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r.metrics
        lines.append(
            f"| {r.label} | {r.predicted_action} | {cell(m['violation_during'])} "
            f"| {cell(m['violation_after'])} | {cell(m['oversight_cost'])} "
            f"| {cell(m['honest_false_flag_loss'], 4)} | {cell(m['training_reward'])} |"
        )
    return "\n".join(lines) + "\n"
