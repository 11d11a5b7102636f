"""Benchmark: throughput and peak memory of ``deter batch`` on many specs (issue #13).

Generates N random small specs (tests.support.batch_helpers.random_small_spec, seed 0) and runs
``deter batch FOLDER -f jsonl -o OUT --no-timing`` once, with the local executor and
(``--dask``) on a local Dask cluster, reporting wall time, specs per second and the peak
resident memory of the largest process of the run (``resource.getrusage`` of the children:
the batch's process or its largest worker).

Usage: python bench/bench_batch_large.py [--n 100000] [--jobs N] [--dask]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.batch_helpers import random_small_spec


def run(command: list[str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 1):
        print(done.stderr[-2000:])
    return seconds, peak_kb, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--dask", action="store_true")
    args = parser.parse_args()
    rng = random.Random(0)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="deter-large-") as tmp:
        folder = Path(tmp) / "specs"
        folder.mkdir()
        for k in range(args.n):
            (folder / f"spec_{k:06d}.toml").write_text(random_small_spec(rng))
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        executors = [["--executor", "local"]] + ([["--executor", "dask"]] if args.dask else [])
        for executor in executors:
            out = Path(tmp) / "out.jsonl"
            command = [sys.executable, "-m", "deter", "batch", str(folder), "-f", "jsonl"]
            command += ["-o", str(out), "--no-timing", *jobs, *executor]
            seconds, peak_kb, code = run(command)
            lines = sum(1 for _ in out.open()) if out.exists() else 0
            print(
                f"{executor[1]:5}  {args.n} specs  {seconds:8.1f} s  "
                f"{args.n / seconds:8.0f} specs/s"
                f"  peak RSS (largest process so far) {peak_kb / 1024:.0f} MB  exit {code}"
                f"  lines {lines}"
            )
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
