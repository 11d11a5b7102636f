"""The learning-aware policy against x1.2 and the hand-set margin (issue 23 item 1 goal).

Run: python bench/bench_learning_aware.py [--episodes 40000] [--design-episodes N]
     [--epsilon 0.3] [--seeds 5] [--agents 200] [--learner epsilon-greedy]
     [--labels "optimal x1.2" "optimal, margin" "learning-aware"]
     [--design sample-mean|exp3|hedge] [--exploration GAMMA] [--violation final|average]
     [--env coding|long]

``--design sample-mean`` (default) builds the experiment's conditions (``build_conditions``)
with the ``[learner]`` an epsilon-greedy learner of ``--design-episodes`` (default
``--episodes``) episodes has: n = epsilon x episodes / 4 samples of each action, confidence
1 - delta/3 (delta 0.05). ``--design exp3`` / ``hedge`` instead adds the policy designed for
that learner over T = ``--design-episodes`` rounds (``[learner] algorithm``, rounds,
``--exploration``, ``--violation``; docs/model.md "No-regret learners"), labelled
``learning-aware, exp3 ...``; when no policy exists the row says the learner cannot be
deterred in T rounds. ``--env long`` runs the long-horizon task's population twin
(``solver/rl/population.py``; the spec gets the task's ``[horizon]``, margin 0.15).

Trains ``--seeds`` x ``--agents`` learners of ``--learner`` (Exp3 with ``--exploration``)
under each condition whose label starts with one of ``--labels`` and prints the designed
cost and the violation after training (the deployed action; ``--violation average``: the
share of rounds) with its 95% Wilson interval (t-interval across seeds for the share).
Exits 1 when a learning-aware row's interval lies wholly above delta (the guarantee failed).
Prints the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np
import tomli
from deter.solver.engine.solve import solve
from deter.solver.rl.experiment import (
    build_conditions,
    learner_samples,
    run_tabular,
    solve_policy,
    t_interval,
    wilson_interval,
)
from deter.solver.rl.population import Task, train_population
from deter.solver.rl.reference import CODING_AGENT_SPEC
from deter.solver.rl.study import horizon_table, long_conditions
from deter.solver.spec.document import Spec

DELTA = 0.05
#: The long task of the experiment (scripts/experiment_learners.py).
LONG = Task(steps=5, audit_delay=3, retention=0.95, opportunity=0.5, discount=0.95)


def _no_regret_design(args: argparse.Namespace, spec_text: str, rounds: int) -> dict[str, Any]:
    """The policy designed for ``--design`` over T rounds, or a row saying none exists."""
    learner: dict[str, Any] = {
        "algorithm": args.design,
        "rounds": rounds,
        "confidence": 1 - DELTA / 3 if args.violation == "final" else 1 - DELTA,
        "violation": args.violation,
    }
    if args.exploration is not None:
        learner["exploration"] = args.exploration
    if args.design == "hedge" and args.violation == "final":
        learner["bound"] = "bernstein"
    label = f"learning-aware, {args.design} (T {rounds}" + (
        f", gamma {args.exploration:g})" if args.exploration is not None else ")"
    )
    data = {**tomli.loads(spec_text), "learner": learner}
    try:
        return solve_policy(data, label)
    except ValueError:
        result = solve(Spec.model_validate(data))
        notes = [n for n in result.notes if n.startswith("learner:")]
        return {"label": label, "infeasible": f"{result.status}; {' '.join(notes)}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40_000)
    parser.add_argument("--design-episodes", type=int, default=None)
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--learner", default="epsilon-greedy")
    parser.add_argument(
        "--labels", nargs="*", default=["optimal x1.2", "optimal, margin", "learning-aware"]
    )
    parser.add_argument("--design", choices=("sample-mean", "exp3", "hedge"), default=None)
    parser.add_argument("--exploration", type=float, default=None)
    parser.add_argument("--violation", choices=("final", "average"), default="final")
    parser.add_argument("--env", choices=("coding", "long"), default="coding")
    args = parser.parse_args()
    design_episodes = args.design_episodes or args.episodes
    task = LONG if args.env == "long" else Task()
    spec_text = CODING_AGENT_SPEC + (horizon_table(task) if args.env == "long" else "")
    if args.design in (None, "sample-mean"):
        n = learner_samples(design_episodes, args.epsilon, 4)
        learner: dict[str, Any] | None = {"samples": n, "confidence": 1 - DELTA / 3}
        what = f"design n = {n}"
    else:
        learner = None
        what = f"design {args.design} T = {design_episodes}"
    if args.env == "long":
        docs = long_conditions(task, margin=0.15, learner=learner)
    else:
        docs = build_conditions(learner=learner)
    if learner is None:
        docs.append(_no_regret_design(args, spec_text, design_episodes))
    docs = [d for d in docs if any(d["label"].startswith(p) for p in args.labels)]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.learner} ({args.env} env), {args.episodes:,} episodes, {what}; load average {load}"
    )
    failed = 0
    for doc in docs:
        if "infeasible" in doc:
            print(f"  {doc['label']}: no policy ({doc['infeasible']})", flush=True)
            continue
        began = time.perf_counter()
        share, low, high = _violation(doc, args, task)
        print(
            f"  {doc['label']}: designed cost {doc['designed']['cost_per_episode']:.3f}, "
            f"violation {'after' if args.violation == 'final' else 'share of rounds'} "
            f"{share:.4f} [{low:.4f}, {high:.4f}] ({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
        if doc["label"].startswith("learning-aware") and low > DELTA:
            failed += 1
    if failed:
        print(f"FAIL: {failed} learning-aware row(s) above delta = {DELTA}", file=sys.stderr)
        return 1
    return 0


def _violation(
    doc: dict[str, Any], args: argparse.Namespace, task: Task
) -> tuple[float, float, float]:
    """(share, low, high): the deployed action's violation with Wilson 95%, or with
    ``--violation average`` the share of rounds on shortcuts (t-interval over seeds)."""
    if args.env == "coding":
        (result,) = run_tabular(
            [doc],
            seeds=args.seeds,
            agents=args.agents,
            episodes=args.episodes,
            epsilon=args.epsilon,
            learner=args.learner,
            exploration=args.exploration,
        )
        key = "violation_after" if args.violation == "final" else "violation_during"
        return result.metrics[key]
    compliant = [a["name"] for a in doc["actions"]].index(doc["compliant"])
    runs = [
        train_population(
            doc,
            args.learner,
            task=task,
            agents=args.agents,
            episodes=args.episodes,
            seed=s,
            epsilon=args.epsilon,
            exploration=args.exploration,
        )
        for s in range(args.seeds)
    ]
    if args.violation == "average":
        return t_interval([r.violation_during for r in runs], (0.0, 1.0))
    final = np.concatenate([r.final for r in runs])
    return wilson_interval(int(np.count_nonzero(final != compliant)), final.size)


if __name__ == "__main__":
    sys.exit(main())
