"""Benchmark: deter batch against a plain scipy script, and deter's start-up against cvxpy's.

Generates N random specs of mixed shapes (2-8 actions, 1-5 monitors, some with a budget,
a risk-averse agent or false positives) in a temporary folder, then times on this machine:

1. ``deter batch FOLDER`` (a subprocess, default --jobs = CPUs), start-up included;
2. ``python bench/plain_scipy.py FOLDER``: tomli + scipy.optimize.linprog (HiGHS), one
   process, start-up included; the answers of both are compared file by file;
3. ``deter solve`` on one small spec against ``python -c "import cvxpy"`` (median of reps).

The batch and the scipy loop are timed in alternation, A/B, ``--pairs`` times (median of the
ratios reported), so both see the same machine load.

Usage: python bench/bench_batch.py [--n 1000] [--pairs 5] [--reps 5] [--seed 0] [--jobs N]
       [--infeasible 0.1] [--no-startup]
Goals: batch / scipy <= 1.0 on 1,000 specs and <= 0.5 on 10,000 (issue 13);
deter solve / import cvxpy <= 1.3 (issue 3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script: the repository root for tests.support

from tests.support.batch_helpers import random_small_spec  # noqa: E402

SMALL = HERE.parent / "problems" / "minimal.toml"


def timed(command: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started, done


def median_time(command: list[str], reps: int) -> float:
    return statistics.median(timed(command)[0] for _ in range(reps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--infeasible", type=float, default=0.0, help="share of infeasible specs")
    parser.add_argument("--no-startup", action="store_true", help="skip the solve/import figure")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    deter = [sys.executable, "-m", "deter"]
    env = {**os.environ, "NO_COLOR": "1"}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

    with tempfile.TemporaryDirectory(prefix="deter-bench-") as tmp:
        folder = Path(tmp) / "specs"
        folder.mkdir()
        for k in range(args.n):
            bad = rng.random() < args.infeasible
            (folder / f"spec_{k:05d}.toml").write_text(random_small_spec(rng, infeasible=bad))
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        ratios, batch_times, scipy_times = [], [], []
        for _ in range(args.pairs):
            batch_s, batch = timed([*deter, "batch", str(folder), "-f", "jsonl", *jobs], env=env)
            scipy_s, plain = timed(
                [sys.executable, str(HERE / "plain_scipy.py"), str(folder), "--jsonl"]
            )
            ratios.append(batch_s / scipy_s)
            batch_times.append(batch_s)
            scipy_times.append(scipy_s)
            print(f"  pair: deter {batch_s:7.2f} s  scipy {scipy_s:7.2f} s  ratio {ratios[-1]:.2f}")
        ours = {d["file"]: d for d in map(json.loads, batch.stdout.splitlines())}
        theirs = {d["file"]: d for d in map(json.loads, plain.stdout.splitlines())}
        differ = [
            f
            for f, d in theirs.items()
            if ours[f]["status"] != d["status"]
            or (
                d["total_cost"] is not None
                and abs(ours[f]["total_cost"] - d["total_cost"])
                > 1e-6 * max(1.0, abs(d["total_cost"]))
            )
        ]
        statuses = {
            s: sum(d["status"] == s for d in ours.values())
            for s in ("optimal", "infeasible", "solver_error", "bad_input")
        }
        batch_s, scipy_s = statistics.median(batch_times), statistics.median(scipy_times)
        print(f"\n{args.n} specs of mixed shapes: {statuses}")
        print(f"deter batch            {batch_s:8.2f} s  ({1000 * batch_s / args.n:.3f} ms/spec)")
        print(f"plain scipy (linprog)  {scipy_s:8.2f} s  ({1000 * scipy_s / args.n:.3f} ms/spec)")
        print(f"answers that differ: {len(differ)} of {len(theirs)}")
        print(
            f"RATIO batch / scipy = {statistics.median(ratios):.2f} (median of {args.pairs} "
            f"A/B pairs; min {min(ratios):.2f}, max {max(ratios):.2f})"
        )

    if not args.no_startup:
        cvxpy_s = median_time([sys.executable, "-c", "import cvxpy"], args.reps)
        solve_s = median_time([*deter, "solve", str(SMALL)], args.reps)
        print(f"\nimport cvxpy           {cvxpy_s:8.3f} s  (median of {args.reps})")
        print(f"deter solve minimal    {solve_s:8.3f} s  (median of {args.reps})")
        print(f"RATIO solve / import cvxpy = {solve_s / cvxpy_s:.2f}   (goal <= 1.30)")
    print(f"load average {os.getloadavg()[0]:.2f} at end (other processes share the CPUs)")


if __name__ == "__main__":
    main()
