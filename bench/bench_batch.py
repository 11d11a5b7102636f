"""Benchmark: deter batch against a plain scipy loop, on the full-vocabulary generator's mixes.

For each share of infeasible specs (``--infeasible 0 0.05 0.2 0.5``) and each mix
(``--mix lp strategic exponential roc penalty_design``; ``bench/batch_corpus.py``), writes N
specs of ``tests/support/vocabulary.py`` to a temporary folder and times on this machine,
start-up included:

1. ``deter batch FOLDER -f jsonl`` (a subprocess, default --jobs = CPUs);
2. ``python bench/plain_scipy.py FOLDER --jsonl``: tomli + scipy.optimize.linprog (HiGHS), one
   process (only for the ``lp`` mix, the programs it can write).

The two are timed in alternation, A/B, ``--pairs`` times (the median of the ratios is
reported), so both see the same machine load; run it under ``nice`` on a shared machine and
read the load averages it prints. Every answer is checked (``batch_corpus.judge``): against
the plain loop's status and cost, and against the generator's expected status; the script
exits 1 on any answer of deter's that disagrees, or that is ``solver_error`` where the
generator knows the answer (the counts and the first five cases are printed first).

Usage: python bench/bench_batch.py [--n 1000] [--pairs 5] [--infeasible 0.2 ...]
       [--mix lp ...] [--jobs N] [--seed 0] [--startup]
Goals (issue 24): on the ``lp`` mix at 20% infeasible, batch / scipy <= 1.0 at 1,000 specs
and <= 0.5 at 10,000; deter solve / import cvxpy <= 1.3 (``--startup``, issue 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from batch_corpus import MIXES, judge, read_jsonl, write_mix  # noqa: E402

SMALL = HERE.parent / "problems" / "minimal.toml"


def timed(command: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started, done


def one(args: argparse.Namespace, name: str, share: float) -> bool:
    """Time and check one (mix, share); True when every answer of deter's is right."""
    deter = [sys.executable, "-m", "deter"]
    env = {**os.environ, "NO_COLOR": "1"}
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    with tempfile.TemporaryDirectory(prefix="deter-bench-") as tmp:
        written = write_mix(Path(tmp) / "specs", name, args.n, share, args.seed)
        plain = name == "lp"
        ratios, batch_times, scipy_times = [], [], []
        batch = reference = None
        for _ in range(args.pairs):
            batch_s, batch = timed(
                [*deter, "batch", str(written.folder), "-f", "jsonl", *jobs], env=env
            )
            batch_times.append(batch_s)
            if plain:
                scipy_s, reference = timed(
                    [sys.executable, str(HERE / "plain_scipy.py"), str(written.folder), "--jsonl"]
                )
                scipy_times.append(scipy_s)
                ratios.append(batch_s / scipy_s)
        assert batch is not None
        ours = read_jsonl(batch.stdout)
        theirs = read_jsonl(reference.stdout) if reference is not None else None
        if theirs is not None and len(theirs) != len(written.expected):
            # a loop that stopped early was timed on fewer specs: its ratio means nothing
            print(
                f"{name}: the plain loop answered {len(theirs)} of {len(written.expected)} "
                f"files (exit {reference.returncode}): {reference.stderr.strip()[-300:]}"  # type: ignore[union-attr]
            )
            return False
        verdict = judge(written, ours, theirs)
        batch_s = statistics.median(batch_times)
        line = (
            f"{name:15} {share:4.0%} infeasible  n={args.n}  batch {batch_s:7.2f} s "
            f"({1000 * batch_s / args.n:6.2f} ms/spec)"
        )
        if plain:
            scipy_s = statistics.median(scipy_times)
            line += (
                f"  scipy {scipy_s:7.2f} s  RATIO {statistics.median(ratios):.2f} "
                f"(median of {args.pairs} pairs; {min(ratios):.2f}-{max(ratios):.2f})"
            )
        print(line)
        print(
            f"    statuses {verdict.statuses}; wrong {len(verdict.wrong)}, unanswered "
            f"{len(verdict.unanswered)}, reference (linprog) wrong {len(verdict.reference_wrong)}"
        )
        for file in (verdict.wrong + verdict.unanswered)[:5]:
            answer = ours.get(file, {})
            print(
                f"    {written.families[file]}: deter {answer.get('status')} "
                f"{answer.get('total_cost')}, expected {written.expected[file]}"
                + (f", scipy {theirs[file]}" if theirs and file in theirs else "")
                + f"  {(answer.get('error') or answer.get('message') or '')[:120]}"
            )
        return not verdict.wrong and not verdict.unanswered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--infeasible", type=float, nargs="+", default=[0.2])
    parser.add_argument("--mix", nargs="+", default=["lp"], choices=sorted(MIXES))
    parser.add_argument("--startup", action="store_true", help="also deter solve / import cvxpy")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    ok = True
    for name in args.mix:
        for share in args.infeasible:
            ok = one(args, name, share) and ok
    if args.startup:
        deter = [sys.executable, "-m", "deter"]
        cvxpy_s = statistics.median(
            timed([sys.executable, "-c", "import cvxpy"])[0] for _ in range(args.reps)
        )
        solve_s = statistics.median(
            timed([*deter, "solve", str(SMALL)])[0] for _ in range(args.reps)
        )
        print(f"\nimport cvxpy {cvxpy_s:.3f} s, deter solve minimal {solve_s:.3f} s")
        print(f"RATIO solve / import cvxpy = {solve_s / cvxpy_s:.2f}   (goal <= 1.30)")
    print(f"load average {os.getloadavg()[0]:.2f} at end (other processes share the CPUs)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
