"""Benchmark: one large spec (10,000 actions, 100 monitors, sparse detection) solves.

Each action is seen by 3 of the 100 monitors, so the detection matrix holds 30,000 of its
1,000,000 entries. Records wall time per stage and peak memory (ru_maxrss of this process;
tracemalloc's peak of Python allocations during the solve).

Usage: python bench/bench_large.py [--actions 10000] [--monitors 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc


def large_spec(n_actions: int, n_monitors: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["version = 1", "[agent]", "penalty_cap = 100.0"]
    lines += ["[[actions]]", 'name = "comply"', "gain = 0.0"]
    seen: dict[int, list[str]] = {j: [] for j in range(n_monitors)}
    for i in range(1, n_actions):
        lines += ["[[actions]]", f'name = "a{i}"', f"gain = {rng.uniform(0.1, 5):.4f}"]
        for j in rng.sample(range(n_monitors), 3):
            seen[j].append(f"a{i} = {rng.uniform(0.2, 0.9):.3f}")
    for j in range(n_monitors):
        lines += [
            "[[monitors]]",
            f'name = "m{j}"',
            f"cost = {rng.uniform(0.1, 3):.3f}",
            f"detects = {{ {', '.join(seen[j])} }}",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    import deter
    from deter.solver.engine.solve import solve  # noqa: F401  (import cost reported apart)

    imported = time.perf_counter()
    text = large_spec(args.actions, args.monitors, args.seed)
    spec = deter.load_spec(text)
    loaded = time.perf_counter()
    tracemalloc.start()
    result = deter.solve(spec)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    solved = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.actions} actions x {args.monitors} monitors ({len(text) / 1e6:.1f} MB of TOML)")
    print(
        f"status {result.status}, verified {result.verification and result.verification.passed}, "
        f"cost {result.total_cost:.6g}"
        if result.total_cost is not None
        else result.status
    )
    print(
        f"import {imported - started:.2f} s, parse+validate {loaded - imported:.2f} s, "
        f"solve+verify {solved - loaded:.2f} s (tracemalloc slows it), "
        f"total {solved - started:.2f} s"
    )
    print(f"timing inside solve: { {k: round(v, 3) for k, v in result.timing.items()} }")
    print(f"peak memory: {peak_mb:.0f} MB RSS; {traced_peak / 1e6:.0f} MB traced during the solve")


if __name__ == "__main__":
    main()
