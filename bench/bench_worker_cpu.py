"""CPU milliseconds a spec of a batch worker: ``batch.worker.solve_chunk`` over the stacks
``deter batch`` makes (``batch.run.stacks_of``), in this one process, on the first N files of
the full-vocabulary ``lp`` mix with a fifth infeasible (10,000 specs, seed 0, written by
``bench/batch_corpus.py`` to ``--folder`` when it is missing). CPU time (``process_time``),
which load disturbs less than wall time; the first stack is solved before the clock starts
(imports, first compile).

Usage: python bench/bench_worker_cpu.py [N=3000] [--folder DIR] [--profile OUT.prof]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=3000)
    parser.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "deter-lp-10000"))
    parser.add_argument("--profile", help="write a cProfile of the timed part here")
    args = parser.parse_args()
    if not Path(args.folder).exists():
        from batch_corpus import write_mix

        write_mix(Path(args.folder), "lp", 10_000, 0.2, 0)
    from deter.solver.batch.run import stacks_of
    from deter.solver.batch.worker import BatchOptions, solve_chunk

    files = sorted(glob.glob(f"{args.folder}/*.toml"))[: args.n]
    stacks = stacks_of(files)
    options = BatchOptions()
    solve_chunk(stacks[0], options)
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    cpu, wall, n = time.process_time(), time.perf_counter(), 0
    for stack in stacks[1:]:
        solve_chunk(stack, options)
        n += len(stack)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    print(
        f"{n} specs: {1000 * cpu / n:.3f} ms CPU a spec ({1000 * wall / n:.3f} ms wall), "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
