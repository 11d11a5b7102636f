"""Simulation throughput: agent-episodes per second, per agent kind and population size.

Run: python bench/bench_simulate.py [--episodes 1000] [--populations 1000 10000]
Simulates problems/coding_agent.toml (4 actions, 3 monitors) under its optimal policy with
the coordinated schedule; each figure is the best of three runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import deter
import numpy as np
from deter.solver.model.arrays import ProblemArrays
from deter.solver.simulation.simulate import AGENT_KINDS, AgentConfig, simulate_policy

ROOT = Path(__file__).resolve().parents[1]


ROOT = ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "problems" / "coding_agent.toml"))
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--populations", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--schedule", default="coordinated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    spec = deter.load_spec(args.spec)
    result = deter.solve(spec).raise_for_status()
    arrays = ProblemArrays.from_spec(spec)
    rates = np.array([m.rate for m in result.monitors])
    print(
        f"{spec.name}: {arrays.n_actions} actions, {arrays.n_monitors} monitors, "
        f"{args.episodes} episodes, {args.schedule} schedule"
    )
    print(
        f"{'agent':15} {'population':>10} {'agent-episodes':>15} {'seconds':>8} "
        f"{'agent-episodes/s':>17}"
    )
    for kind in AGENT_KINDS:
        for population in args.populations:
            best = float("inf")
            for _ in range(args.repeats):
                began = time.perf_counter()
                simulate_policy(
                    arrays,
                    rates,
                    agent=AgentConfig(kind),  # type: ignore[arg-type]
                    episodes=args.episodes,
                    population=population,
                    seed=0,
                    schedule=args.schedule,
                )
                best = min(best, time.perf_counter() - began)
            total = args.episodes * population
            print(f"{kind:15} {population:>10,} {total:>15,} {best:8.2f} {total / best:>17,.0f}")


if __name__ == "__main__":
    main()
