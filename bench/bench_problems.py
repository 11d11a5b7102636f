"""Solve time of every spec in problems/ (in one process): first solve and warm re-solve.

Run: python bench/bench_problems.py
The first solve of a shape compiles the cvxpy program; a re-solve of the same shape reuses it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import deter

ROOT = Path(__file__).resolve().parents[1]


ROOT = ROOT


def main() -> None:
    files = sorted((ROOT / "problems").rglob("*.toml"))
    print(f"{'spec':45} {'status':11} {'first ms':>9} {'warm ms':>9}")
    warm_all = []
    for path in files:
        spec = deter.load_spec(path)
        began = time.perf_counter()
        result = deter.solve(spec)
        first = time.perf_counter() - began
        warm = []
        for _ in range(5):
            began = time.perf_counter()
            deter.solve(spec)
            warm.append(time.perf_counter() - began)
        warm_all.append(statistics.median(warm))
        name = str(path.relative_to(ROOT))
        warm_ms = 1e3 * statistics.median(warm)
        print(f"{name:45} {result.status:11} {1e3 * first:9.1f} {warm_ms:9.1f}")
    print(f"median warm solve: {1e3 * statistics.median(warm_all):.1f} ms over {len(files)} specs")


if __name__ == "__main__":
    main()
