"""Benchmark: a spec solved alone (``deter solve``'s path, the one a batch takes for the
specs its stacks hand back), per spec, in one warm process.

Writes ``--n`` specs of a full-vocabulary mix (``bench/batch_corpus.py``), solves each once
to warm cvxpy's caches (a batch worker's state after its first stacks), then times
``--reps`` rounds of solving every spec alone and prints the median milliseconds a spec
(process CPU time and wall clock) and its statuses. Compare two trees by alternating
runs (the machine is shared):

    nice -n 10 python bench/bench_alone.py                       # the installed tree
    PYTHONPATH=/work/trees/NAME nice -n 10 python bench/bench_alone.py

Usage: python bench/bench_alone.py [--n 120] [--mix lp] [--infeasible 0.2] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_corpus import MIXES, write_mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--mix", default="lp", choices=sorted(MIXES))
    parser.add_argument("--infeasible", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import deter
    from deter.solver.engine.solve import solve
    from deter.solver.results.errors import SpecError
    from deter.solver.spec.loading import load_spec

    with tempfile.TemporaryDirectory() as tmp:
        written = write_mix(Path(tmp) / "specs", args.mix, args.n, args.infeasible, args.seed)
        specs = []
        for file in written.expected:
            try:
                specs.append(load_spec(file))
            except SpecError:
                continue
    statuses = Counter(str(solve(spec).status) for spec in specs)  # warm-up
    rounds, cpu = [], []
    for _ in range(args.reps):
        began, began_cpu = time.perf_counter(), time.process_time()
        for spec in specs:
            solve(spec)
        rounds.append((time.perf_counter() - began) / len(specs) * 1e3)
        cpu.append((time.process_time() - began_cpu) / len(specs) * 1e3)
    # CPU time: on a loaded machine the wall clock mostly measures the other processes
    print(
        f"{deter.__file__}: {len(specs)} specs ({dict(statuses)}), alone: "
        f"{statistics.median(cpu):.2f} ms CPU a spec, {statistics.median(rounds):.2f} ms wall "
        "(CPU rounds " + ", ".join(f"{r:.2f}" for r in cpu) + ")"
    )


if __name__ == "__main__":
    main()
