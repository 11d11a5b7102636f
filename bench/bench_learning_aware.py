"""The learning-aware policy against x1.2 and the hand-set margin (issue 23 item 1 goal).

Run: python bench/bench_learning_aware.py [--episodes 40000] [--design-episodes N]
     [--epsilon 0.3] [--seeds 5] [--agents 200] [--learner epsilon-greedy]
     [--labels "optimal x1.2" "optimal, margin" "learning-aware"]

Builds the experiment's conditions (``build_conditions``) with the ``[learner]`` an
epsilon-greedy learner of ``--design-episodes`` (default ``--episodes``) episodes has:
n = epsilon x episodes / 4 samples of each action, confidence 1 - delta/3 (delta 0.05);
trains ``--seeds`` x ``--agents`` learners of ``--learner`` under each condition whose label
starts with one of ``--labels`` and prints the designed cost and the violation after
training with its 95% Wilson interval. Exits 1 when a learning-aware row's interval lies
wholly above delta (the guarantee failed). Prints the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from deter.solver.rl.experiment import build_conditions, learner_samples, run_tabular

DELTA = 0.05


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
    args = parser.parse_args()
    n = learner_samples(args.design_episodes or args.episodes, args.epsilon, 4)
    docs = build_conditions(learner={"samples": n, "confidence": 1 - DELTA / 3})
    docs = [d for d in docs if any(d["label"].startswith(p) for p in args.labels)]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.learner}, {args.episodes:,} episodes, design n = {n}; load average {load}")
    failed = 0
    for doc in docs:
        began = time.perf_counter()
        (result,) = run_tabular(
            [doc],
            seeds=args.seeds,
            agents=args.agents,
            episodes=args.episodes,
            epsilon=args.epsilon,
            learner=args.learner,
        )
        share, low, high = result.metrics["violation_after"]
        print(
            f"  {doc['label']}: designed cost {doc['designed']['cost_per_episode']:.3f}, "
            f"violation after {share:.4f} [{low:.4f}, {high:.4f}] "
            f"({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
        if doc["label"].startswith("learning-aware") and low > DELTA:
            failed += 1
    if failed:
        print(f"FAIL: {failed} learning-aware row(s) above delta = {DELTA}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
