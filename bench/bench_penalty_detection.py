"""Benchmark: penalty design, exponential detection and ROC monitors (issue 4).

Prints, on this machine:

1. the solve time (median of reps, compiled program cached after the first) of the three
   issue-4 problems in problems/;
2. for random shared-penalty specs (n actions, m monitors), the convex answer against the
   Audit-Games style grid (an LP at each of G penalty levels, scipy HiGHS): cost gap and time.

Usage: python bench/bench_penalty_detection.py [--reps 5] [--specs 5] [--grid 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import deter
import numpy as np
from deter.solver.model.arrays import ProblemArrays
from scipy.optimize import linprog

ROOT = Path(__file__).resolve().parents[1]


ROOT = ROOT
PROBLEMS = ["audit_games_penalty", "diminishing_returns_review", "roc_trusted_monitoring"]


def random_shared_spec(rng: np.random.Generator, n: int, m: int, cap: float) -> str:
    lines = [
        "[agent]",
        f"penalty_cap = {cap}",
        "",
        "[penalty]",
        'design = "shared"',
        f"cost = {rng.uniform(0.005, 0.05)}",
        "",
        "[[actions]]",
        'name = "comply"',
        "gain = 0.0",
    ]
    for i in range(n):
        lines += ["", "[[actions]]", f'name = "a{i}"', f"gain = {rng.uniform(0.5, 5.0)}"]
    for j in range(m):
        detects = ", ".join(
            f"a{i} = {rng.uniform(0.3, 0.9)}" for i in range(n) if j == 0 or rng.random() < 0.5
        )
        lines += [
            "",
            "[[monitors]]",
            f'name = "m{j}"',
            f"cost = {rng.uniform(0.5, 5.0)}",
            f"detects = {{ {detects} }}",
        ]
    return "\n".join(lines) + "\n"


def grid_cost(text: str, levels: np.ndarray) -> float:
    arrays = ProblemArrays.from_spec(deter.load_spec(text))
    q = arrays.detection[arrays.deviations].toarray()
    k = arrays.gain[arrays.deviations] - arrays.gain[arrays.compliant]
    best = np.inf
    bounds = list(zip(arrays.min_rate, arrays.max_rate, strict=True))
    for level in levels:
        if np.any(k / level > 1):
            continue
        lp = linprog(arrays.cost, A_ub=-q, b_ub=-k / level, bounds=bounds, method="highs")
        if lp.status == 0:
            best = min(best, float(lp.fun) + arrays.penalty_cost * level)
    return float(best)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--specs", type=int, default=5)
    parser.add_argument("--grid", type=int, default=300)
    args = parser.parse_args()
    for name in PROBLEMS:
        spec = deter.load_spec(ROOT / "problems" / f"{name}.toml")
        times = []
        for _ in range(args.reps):
            began = time.perf_counter()
            result = deter.solve(spec)
            times.append(time.perf_counter() - began)
        print(
            f"{name:30s} {result.status:8s} total_cost {result.total_cost:.6g}  "
            f"solver {result.solver}  median {1e3 * statistics.median(times):.1f} ms "
            f"(first {1e3 * times[0]:.1f} ms)"
        )
    rng = np.random.default_rng(0)
    for n, m in [(3, 3), (10, 5), (30, 10)]:
        gaps, convex_t, grid_t = [], [], []
        for _ in range(args.specs):
            text = random_shared_spec(rng, n, m, cap=50.0)
            began = time.perf_counter()
            result = deter.solve(deter.load_spec(text))
            convex_t.append(time.perf_counter() - began)
            began = time.perf_counter()
            grid = grid_cost(text, np.linspace(0.5, 50.0, args.grid))
            grid_t.append(time.perf_counter() - began)
            assert result.total_cost is not None
            gaps.append((grid - result.total_cost) / result.total_cost)
        print(
            f"shared n={n:2d} m={m:2d}: grid - convex, relative: min {min(gaps):.2e} "
            f"max {max(gaps):.2e}; convex median {1e3 * statistics.median(convex_t):.1f} ms, "
            f"grid ({args.grid} LPs) median {1e3 * statistics.median(grid_t):.0f} ms"
        )


if __name__ == "__main__":
    main()
