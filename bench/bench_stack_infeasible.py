"""What an infeasible member costs in a stack (issue 24 item 1), in this process.

Specs of the core and CARA families of the full-vocabulary generator (with monitors: the
stackable ones), feasible and infeasible apart: the time a spec takes in stacks of 64
feasible specs, in stacks of 64 infeasible ones (the worst case: every stack goes through
the priced solve, and every member is proven from it), and an infeasible spec solved alone
(``deter.solve``, the path it took before). Alternated, ``--reps`` times; CPU time of this
process (``time.process_time``: it survives a loaded machine better than the wall clock).
Each round of feasible stacks starts after a small feasible stack, as in a batch of
feasible specs (a worker whose last stack had an infeasible member starts the next with
priced slacks: one solve more for an all-feasible stack).

Usage: python bench/bench_stack_infeasible.py [--reps 3]   (goal: infeasible <= 2x feasible)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deter.solver.engine.solve import solve
from deter.solver.engine.stacked import solve_stacked
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.vocabulary import mix

FAMILIES = ("linear", "cara_averse", "cara_seeking", "budget", "ties")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    feasible, infeasible = [], []
    for case in mix(320, seed=4, infeasible=0.5, families=FAMILIES):
        try:
            spec = parse_spec_text(case.text, f"{case.label}.toml")
        except SpecError:
            continue
        if spec.monitors:
            (infeasible if case.infeasible else feasible).append(spec)
    feasible, infeasible = feasible[:128], infeasible[:128]
    solve_stacked(feasible[:16])  # imports and first compilations out of the timing
    print(f"load average {os.getloadavg()[0]:.2f}")
    for _ in range(args.reps):
        solve_stacked(feasible[:4])  # the worker's state after feasible stacks
        started = time.process_time()
        for k in range(0, 128, 64):
            solve_stacked(feasible[k : k + 64])
        ok = (time.process_time() - started) / len(feasible)
        started = time.process_time()
        answers = [r for k in range(0, 128, 64) for r in solve_stacked(infeasible[k : k + 64])]
        bad = (time.process_time() - started) / len(infeasible)
        started = time.process_time()
        for spec in infeasible[:32]:
            solve(spec)
        alone = (time.process_time() - started) / 32
        print(
            f"feasible, stacked {1000 * ok:6.1f} ms; infeasible, stacked {1000 * bad:6.1f} ms "
            f"({bad / ok:.1f}x; {sum(a is None for a in answers)} of {len(answers)} handed "
            f"back); infeasible, alone {1000 * alone:6.1f} ms"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
