"""Benchmark: throughput and peak memory of ``deter batch`` on many specs (issue #13).

Writes N specs of a full-vocabulary mix (``bench/batch_corpus.py``: by default the ``lp``
mix with a fifth infeasible, as users' design explorations are; ``--mix`` and
``--infeasible`` choose others) and runs ``deter batch FOLDER -f jsonl -o OUT --no-timing``
once, with the local executor and
(``--dask``) on a local Dask cluster, reporting wall time, specs per second and peak resident
memory: of the batch's own process and of its largest worker, each its own high-water mark
(``VmHWM`` in ``/proc/PID/status``, read every 0.1 s while the run lasts, for the batch's
process and every process under it). Several sizes (``--n 10000 100000``) show whether the
batch's memory grows with the number of specs (streamed outcomes: it should not).

``--resume``: each run keeps a ledger (``--resume LEDGER``), then the same command runs again
with every file in the ledger (all resumed, nothing solved): the second line is the cost of
resuming a finished batch, the ledger read and every result written again from it.

Each run's statuses are checked against the generator's expected ones: the script exits 1
on a wrong answer (``batch_corpus.judge``) and reports the unanswered files.

Usage: python bench/bench_batch_large.py [--n 100000 ...] [--jobs N] [--dask] [--resume]
       [--mix lp] [--infeasible 0.2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_corpus import MIXES, judge, read_jsonl, write_mix


def high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    """Every process under ``root`` (workers fork from a forkserver, Dask's from nannies)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def run(command: list[str]) -> tuple[float, int, int, int]:
    """(seconds, the batch process's peak KB, the largest worker's peak KB, exit code)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    own = worker = 0
    while process.poll() is None:
        own = max(own, high_water_kb(process.pid))
        for child in descendants(process.pid):
            worker = max(worker, high_water_kb(child))
        time.sleep(0.1)
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 1):
        print(stderr[-2000:])
    return seconds, own, worker, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--dask", action="store_true")
    parser.add_argument("--resume", action="store_true", help="keep a ledger, then resume it")
    parser.add_argument("--mix", default="lp", choices=sorted(MIXES))
    parser.add_argument("--infeasible", type=float, default=0.2)
    args = parser.parse_args()
    wrong = False
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="deter-large-") as tmp:
            folder = Path(tmp) / "specs"
            written = write_mix(folder, args.mix, n, args.infeasible, seed=0)
            jobs = ["--jobs", str(args.jobs)] if args.jobs else []
            executors = [["--executor", "local"]] + ([["--executor", "dask"]] if args.dask else [])
            for executor in executors:
                out = Path(tmp) / "out.jsonl"
                ledger = Path(tmp) / f"ledger-{executor[1]}.jsonl"
                command = [sys.executable, "-m", "deter", "batch", str(folder), "-f", "jsonl"]
                command += ["-o", str(out), "--no-timing", *jobs, *executor]
                if args.resume:
                    command += ["--resume", str(ledger)]
                for label in [executor[1]] + (["resume"] if args.resume else []):
                    seconds, own_kb, worker_kb, code = run(command)
                    ours = read_jsonl(out.read_text()) if out.exists() else {}
                    judged = judge(written, ours)
                    wrong = wrong or bool(judged.wrong)
                    size = f"  ledger {ledger.stat().st_size / 2**20:.1f} MB" if args.resume else ""
                    print(
                        f"{label:6} {n:>7} specs  {seconds:7.1f} s  {n / seconds:6.0f} specs/s"
                        f"  peak RSS: batch process {own_kb / 1024:4.0f} MB,"
                        f" largest worker {worker_kb / 1024:4.0f} MB  exit {code}"
                        f"  lines {len(ours)}  {dict(judged.statuses)}  wrong {len(judged.wrong)}"
                        f"  unanswered {len(judged.unanswered)}" + size
                    )
                    for file in judged.wrong[:5]:
                        print(f"  wrong: {file}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
