"""Simulation at scale (issue 23 item 4): 10^8 agent-episodes, and 1 against 2 Dask workers.

Run: python bench/bench_simulate_scale.py [--agent-episodes 1e8] [--agent epsilon-greedy]
     [--scaling-agent-episodes 2e7] [--pairs 2] [--address tcp://host:8786]

1. Throughput: problems/coding_agent.toml (4 actions, 3 monitors) under its optimal policy,
   the coordinated schedule, about 10^8 agent-episodes in this process (blocks of
   ``BLOCK_AGENTS`` agents played one after another): agent-episodes per second.
2. Scaling: the same simulation on a local Dask cluster of 1 and of 2 worker processes,
   alternated ``--pairs`` times (a shared machine's load changes; ratios of neighbours
   survive it better than seconds); each run's result is checked equal, bit for bit, to the
   in-process one. With ``--address``, also on that cluster.

Exits 1 when a Dask result differs from the in-process one. Prints the load average and the
CPU seconds the work took (each task's thread time on the workers): on a shared machine the
wall seconds mean little without them, and "cores obtained" (CPU seconds / wall seconds)
says how much of the machine a run actually had.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deter
import numpy as np
from deter.solver.batch.dask_executor import dask_mapper
from deter.solver.model.arrays import ProblemArrays
from deter.solver.simulation.simulate import (
    BLOCK_AGENTS,
    AgentConfig,
    Policy,
    block_sizes,
    serial_map,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _fingerprint(sim: Any) -> str:
    doc = sim.to_dict()
    doc.pop("timing", None)
    curves = [np.asarray(r.curve).tobytes().hex() for r in sim.runs]
    return json.dumps([doc, curves], sort_keys=True)


@dataclass(frozen=True)
class _Timed:
    """``function`` that also returns the CPU seconds its thread spent on the task: on a
    shared machine wall time depends on the load, CPU time much less."""

    function: Callable[[Any], Any]

    def __call__(self, task: Any) -> tuple[Any, float]:
        began = time.thread_time()
        out = self.function(task)
        return out, time.thread_time() - began


def _timed(mapper: Any, cpu: list[float]) -> Any:
    """``mapper`` whose tasks' CPU seconds are appended to ``cpu``."""

    def run(function: Callable[[Any], Any], tasks: Any) -> list[Any]:
        pairs = mapper(_Timed(function), tasks)
        cpu.extend(c for _, c in pairs)
        return [r for r, _ in pairs]

    return run


def _warm(_: int) -> int:
    """Import the simulation in a worker (a worker's first task would otherwise pay it)."""
    import deter.solver.simulation.simulate  # noqa: F401

    time.sleep(0.2)  # long enough that every worker gets one
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "problems" / "coding_agent.toml"))
    parser.add_argument("--agent", default="epsilon-greedy")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--agent-episodes", type=float, default=1e8)
    parser.add_argument("--scaling-agent-episodes", type=float, default=2e7)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--address", default=None)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Port .* is already in use")

    spec = deter.load_spec(args.spec)
    result = deter.solve(spec).raise_for_status()
    arrays = ProblemArrays.from_spec(spec)
    rates = np.array([m.rate for m in result.monitors])
    agent = AgentConfig(args.agent)

    def run(population: int, mapper: Any, cpu: list[float] | None = None) -> tuple[float, Any]:
        if cpu is not None:
            mapper = _timed(mapper, cpu)
        began = time.perf_counter()
        sim = simulate(
            arrays,
            [Policy("optimal", rates)],
            agent=agent,
            episodes=args.episodes,
            population=population,
            seed=0,
            mapper=mapper,
        )
        return time.perf_counter() - began, sim

    print(
        f"{spec.name}: {arrays.n_actions} actions, {arrays.n_monitors} monitors, agent "
        f"{args.agent}, {args.episodes} episodes, blocks of {BLOCK_AGENTS:,} agents; "
        f"{os.cpu_count()} CPUs, {_load()}"
    )
    if not args.skip_throughput:
        population = math.ceil(args.agent_episodes / args.episodes)
        cpu_began = time.process_time()
        seconds, sim = run(population, serial_map)
        cpu = time.process_time() - cpu_began
        total = population * args.episodes
        print(
            f"throughput, one process: {population:,} agents x {args.episodes:,} episodes = "
            f"{total:,} agent-episodes in {seconds:.1f} s: {total / seconds / 1e6:.2f} M/s; "
            f"{cpu:.1f} CPU s: {total / cpu / 1e6:.2f} M per CPU second, the process had "
            f"{cpu / seconds:.2f} of a core (final violation "
            f"{sim.runs[0].final_violation_rate.mean:.4f}; {_load()})"
        )

    # Scaling: a population that is a whole number of blocks, an even number of them.
    blocks = max(2, 2 * round(args.scaling_agent_episodes / args.episodes / BLOCK_AGENTS / 2))
    population = blocks * BLOCK_AGENTS
    assert len(block_sizes(population)) == blocks
    total = population * args.episodes
    reference_seconds, reference = run(population, serial_map)
    expected = _fingerprint(reference)
    print(
        f"scaling: {population:,} agents ({blocks} blocks) x {args.episodes:,} episodes = "
        f"{total:,} agent-episodes; in this process {reference_seconds:.1f} s "
        f"({total / reference_seconds / 1e6:.2f} M/s)"
    )
    wrong = 0
    ratios = []
    for pair in range(args.pairs):
        seconds: dict[int, float] = {}
        for workers in (1, 2) if pair % 2 == 0 else (2, 1):
            with dask_mapper(None, workers) as mapper:
                mapper(_warm, list(range(4 * workers)))  # imports done before the clock
                cpu_tasks: list[float] = []
                took, sim = run(population, mapper, cpu_tasks)
            same = _fingerprint(sim) == expected
            wrong += not same
            seconds[workers] = took
            print(
                f"  pair {pair + 1}: {workers} worker(s) {took:.1f} s "
                f"({total / took / 1e6:.2f} M/s), tasks' CPU {sum(cpu_tasks):.1f} s "
                f"({total / sum(cpu_tasks) / 1e6:.2f} M per CPU second; the workers had "
                f"{sum(cpu_tasks) / took:.2f} cores), equal to one process bit for bit: "
                f"{same}; {_load()}"
            )
        ratios.append(seconds[1] / seconds[2])
        print(f"  pair {pair + 1}: speed-up 1 -> 2 workers {ratios[-1]:.2f}x")
    if ratios:
        print(
            f"speed-up 1 -> 2 workers: median {float(np.median(ratios)):.2f}x "
            f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} pairs)"
        )
    if args.address:
        with dask_mapper(args.address, 1) as mapper:
            took, sim = run(population, mapper)
        same = _fingerprint(sim) == expected
        wrong += not same
        print(f"cluster {args.address}: {took:.1f} s, equal bit for bit: {same}")
    if wrong:
        print(f"FAIL: {wrong} Dask run(s) differ from the in-process result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
