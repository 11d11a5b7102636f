"""Benchmark: throughput and memory over time of ``deter batch`` on many specs (issues 13, 24).

Writes N specs of a full-vocabulary mix (``bench/batch_corpus.py``: by default the ``lp``
mix with a fifth infeasible, as users' design explorations are; ``--mix all`` every family of
``tests/support/vocabulary.py``; ``--infeasible`` the share) and runs
``deter batch FOLDER -f jsonl --no-timing --jobs 2`` with the local executor (2 worker
processes) and (``--dask``) on a local Dask cluster of 2 workers, reading the output as it
streams. Reported: wall time, specs per second, each process's high-water mark (``VmHWM``)
and a timeline of resident memory (``VmRSS``, sampled every 0.5 s) at each tenth of the
specs done: the batch's own process (with ``--dask`` also the client and the local
scheduler), its largest worker, and every process of the run together, with the growth
from a fifth of the specs done to the end (flat memory: about 0).

Answers are checked twice: every file's status against the generator's expected one
(``batch_corpus.judge``), and ``--reference K`` files drawn at random (200 by default)
re-solved one by one in this process with the library (``deter.solve``: status and cost)
and, for the families it writes, the plain scipy loop (``plain_scipy.py``: cost). The
script exits 1 on any wrong answer.

``--resume``: each run keeps a ledger (``--resume LEDGER``), then the same command runs again
with every file in the ledger (all resumed, nothing solved): the second line is the cost of
resuming a finished batch, the ledger read and every result written again from it.

Usage: python bench/bench_batch_large.py [--n 100000 ...] [--jobs 2] [--dask | --dask-only]
       [--resume] [--mix lp|all|...] [--infeasible 0.2] [--reference 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_corpus import LOOP_FAMILIES, MIXES, Written, judge, same_answer, write_mix


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


def resident_kb(pid: int) -> int:
    """The process's resident memory now (VmRSS), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Sample:
    seconds: float
    lines: int
    batch_kb: int  # the batch's own process (the Dask client and local scheduler with --dask)
    worker_kb: int  # its largest descendant (a worker, a nanny)
    total_kb: int  # every process of the run together


@dataclass
class Run:
    seconds: float
    own_kb: int  # high-water marks (VmHWM)
    worker_kb: int
    code: int
    answers: dict[str, dict]
    timeline: list[Sample] = field(default_factory=list)
    cpu_seconds: float = 0.0  # user + system CPU of every process of the run (sampled)
    loads: tuple[float, float] = (0.0, 0.0)  # the 1-minute load average: least, most


def cpu_ticks(pid: int) -> int:
    """The process's user + system CPU so far in clock ticks, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (OSError, IndexError, ValueError):
        return 0


def run(command: list[str], every: float = 0.5) -> Run:
    """Run a batch writing ``-f jsonl`` to stdout, read as it streams (the lines done so
    far), sampling every process's resident memory every ``every`` seconds."""
    started = time.perf_counter()
    loads: list[float] = []
    ticks: dict[int, int] = {}  # each process's CPU at its last sample (the last 0.5 s lost)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers: dict[str, dict] = {}
    errors: list[str] = []

    def read_out() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip():
                doc = json.loads(line)
                if "file" in doc:
                    answers[doc["file"]] = {k: doc.get(k) for k in ("status", "total_cost")}

    def read_err() -> None:
        assert process.stderr is not None
        errors.extend(process.stderr)

    readers = [threading.Thread(target=f, daemon=True) for f in (read_out, read_err)]
    for reader in readers:
        reader.start()
    own = worker = 0
    timeline: list[Sample] = []
    while process.poll() is None:
        own = max(own, high_water_kb(process.pid))
        children = descendants(process.pid)
        for child in children:
            worker = max(worker, high_water_kb(child))
        for pid in [process.pid, *children]:
            ticks[pid] = max(ticks.get(pid, 0), cpu_ticks(pid))
        now = [resident_kb(child) for child in children]
        batch = resident_kb(process.pid)
        timeline.append(
            Sample(
                time.perf_counter() - started,
                len(answers),
                batch,
                max(now, default=0),
                batch + sum(now),
            )
        )
        loads.append(os.getloadavg()[0])
        time.sleep(every)
    for reader in readers:
        reader.join()
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 1):
        print("".join(errors)[-2000:])
    done = Run(seconds, own, worker, process.returncode, answers, timeline)
    done.cpu_seconds = sum(ticks.values()) / os.sysconf("SC_CLK_TCK")
    done.loads = (min(loads, default=0.0), max(loads, default=0.0))
    return done


def print_timeline(timeline: list[Sample], n: int) -> tuple[float, float]:
    """Resident memory at each tenth of the specs done; returns the batch process's and the
    largest worker's growth (MB) from a fifth of the specs done to the end (flat: ~0)."""
    print("    done   seconds  specs/s  batch MB  largest worker MB  all processes MB")
    rows: list[Sample] = []
    for tenth in range(1, 11):
        reached = [s for s in timeline if s.lines >= tenth * n // 10]
        if reached and (not rows or reached[0] is not rows[-1]):  # a stack ends several tenths
            rows.append(reached[0])
    previous = Sample(0.0, 0, 0, 0, 0)
    for s in rows:
        rate = (s.lines - previous.lines) / max(s.seconds - previous.seconds, 1e-9)
        print(
            f"  {s.lines:>7} {s.seconds:8.1f} {rate:8.0f} {s.batch_kb / 1024:9.0f}"
            f" {s.worker_kb / 1024:18.0f} {s.total_kb / 1024:17.0f}"
        )
        previous = s
    fifth = [s for s in timeline if s.lines >= n // 5]
    if not fifth or not rows:
        return float("nan"), float("nan")
    late = [s for s in timeline if s.lines >= n // 5]
    base = fifth[0]
    return (
        (max(s.batch_kb for s in late) - base.batch_kb) / 1024,
        (max(s.worker_kb for s in late) - base.worker_kb) / 1024,
    )


def reference_sample(written: Written, answers: dict[str, dict], k: int, seed: int) -> list[str]:
    """``k`` files drawn at random, solved again one by one in this process with the library
    (``deter.load_spec(path)`` then ``deter.solve``) and, where it writes the program, the
    plain scipy loop: the files where the batch's status or cost differs from them."""
    import random

    import deter
    import tomli
    from plain_scipy import solve as plain_solve

    files = sorted(written.expected)
    picked = random.Random(seed).sample(files, min(k, len(files)))
    wrong = []
    for file in picked:
        ours = answers.get(file, {"status": "missing"})
        try:
            result = deter.solve(deter.load_spec(file))
            library = {"status": str(result.status), "total_cost": result.total_cost}
        except deter.SpecError:
            library = {"status": "bad_input", "total_cost": None}
        if not same_answer(ours, library):
            wrong.append(f"{file}: batch {ours} library {library}")
            continue
        if written.families.get(file) in LOOP_FAMILIES and ours.get("status") == "optimal":
            with open(file, "rb") as handle:
                document = tomli.load(handle)
            try:
                status, cost = plain_solve(document)
            except ArithmeticError:  # beyond the loop's float range: nothing to compare
                continue
            loop = {"status": status, "total_cost": cost}
            if status == "optimal" and not same_answer(ours, loop):
                wrong.append(f"{file}: batch {ours} plain loop {loop}")
    return wrong


def corpus(keep: Path | None, tmp: Path, mix: str, n: int, infeasible: float) -> Written:
    """The mix written in ``tmp``, or in ``keep`` where a previous run left it complete
    (its generator's expectations saved beside it)."""
    if keep is None:
        return write_mix(tmp / "specs", mix, n, infeasible, seed=0)
    folder = keep / f"{mix}-{n}-{infeasible:g}"
    saved = folder / "written.json"
    if saved.exists():
        doc = json.loads(saved.read_text(encoding="utf-8"))
        return Written(folder / "specs", doc["expected"], doc["families"])
    written = write_mix(folder / "specs", mix, n, infeasible, seed=0)
    doc = {"expected": written.expected, "families": written.families}
    saved.write_text(json.dumps(doc), encoding="utf-8")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also on a local Dask cluster")
    parser.add_argument("--dask-only", action="store_true", help="only on a local Dask cluster")
    parser.add_argument("--resume", action="store_true", help="keep a ledger, then resume it")
    parser.add_argument("--mix", default="lp", choices=sorted(MIXES))
    parser.add_argument("--infeasible", type=float, default=0.2)
    parser.add_argument("--reference", type=int, default=200, help="files re-solved as reference")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="keep the written specs in CORPUS/<mix>-<n>-<infeasible> and reuse them when run "
        "again (writing 100,000 specs takes minutes: one executor per run then shares them)",
    )
    args = parser.parse_args()
    wrong = False
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="deter-large-") as tmp:
            written = corpus(args.corpus, Path(tmp), args.mix, n, args.infeasible)
            folder = written.folder
            executors = [] if args.dask_only else [["--executor", "local"]]
            executors += [["--executor", "dask"]] if args.dask or args.dask_only else []
            for executor in executors:
                ledger = Path(tmp) / f"ledger-{executor[1]}.jsonl"
                command = [sys.executable, "-m", "deter", "batch", str(folder), "-f", "jsonl"]
                command += ["--no-timing", "--jobs", str(args.jobs), *executor]
                if args.resume:
                    command += ["--resume", str(ledger)]
                for label in [executor[1]] + (["resume"] if args.resume else []):
                    done = run(command)
                    judged = judge(written, done.answers)
                    wrong = wrong or bool(judged.wrong)
                    size = f"  ledger {ledger.stat().st_size / 2**20:.1f} MB" if args.resume else ""
                    memory = (
                        f"peak RSS: batch process {done.own_kb / 1024:4.0f} MB,"
                        f" largest worker {done.worker_kb / 1024:4.0f} MB"
                    )
                    print(
                        f"{label:6} {n:>7} specs  {done.seconds:7.1f} s"
                        f"  {n / done.seconds:6.0f} specs/s  {memory}  exit {done.code}"
                        f"  lines {len(done.answers)}  {dict(judged.statuses)}"
                        f"  wrong {len(judged.wrong)}  unanswered {len(judged.unanswered)}" + size
                    )
                    print(
                        f"  CPU {done.cpu_seconds:.0f} s (every process of the run, sampled):"
                        f" {1000 * done.cpu_seconds / n:.2f} ms a spec,"
                        f" {done.cpu_seconds / done.seconds:.2f} cores on average;"
                        f" load average {done.loads[0]:.1f}-{done.loads[1]:.1f} during the run"
                    )
                    batch_growth, worker_growth = print_timeline(done.timeline, n)
                    print(
                        f"  growth from a fifth of the specs done to the end: batch process"
                        f" {batch_growth:+.0f} MB, largest worker {worker_growth:+.0f} MB"
                    )
                    for file in judged.wrong[:5]:
                        print(f"  wrong: {file}")
                    for file in judged.unanswered[:5]:
                        print(f"  unanswered: {file} {done.answers.get(file)}")
                    if args.reference and label != "resume":
                        disagree = reference_sample(written, done.answers, args.reference, n)
                        wrong = wrong or bool(disagree)
                        print(
                            f"  reference: {min(args.reference, n)} files re-solved one by one"
                            f" (library; plain loop where it writes them): {len(disagree)} differ"
                        )
                        for line in disagree[:5]:
                            print(f"  differs: {line}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
