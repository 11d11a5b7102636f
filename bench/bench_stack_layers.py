"""Where a stacked solve's time goes, per stack, by stack size and kind (issue 24), in this
process: the build (``formulation/stacked.build_stack``: a member's first build, and a
rebuild from its cached block), the cvxpy Problem object, cvxpy's compilation
(``get_problem_data``), HiGHS through cvxpy (``solve_via_data``) and the read-back
(``unpack_results`` and the copies). Plain stacks of feasible members, priced and elastic
stacks of the whole mix (20% infeasible, the lp mix of ``bench/batch_corpus.py``).

Every stack is built as a batch builds it: a structure met for the first time (nothing
cached by structure). CPU time (``time.process_time``); ms a stack, mean of the repetitions.
Checks nothing about answers (the golden check and ``tests/formulation/test_stacked_build.py``
do): it only times.

Usage: python bench/bench_stack_layers.py [--specs 3000] [--sizes 64 256 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deter.solver.engine.stacked import PENALTY, arrays_of
from deter.solver.formulation import program, stacked
from deter.solver.model.arrays import ProblemArrays
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.vocabulary import mix

FAMILIES = ("core", "cara", "degenerate")  # bench/batch_corpus.py's lp mix
TIMES: dict[str, float] = {}


def timed_solve(problem: Any, solver: str, **options: Any) -> program.SolveRecord:
    """``program.solve_problem``'s steps, each timed."""
    with program.quiet_native_output():
        t0 = time.process_time()
        data, chain, inverse = problem.get_problem_data(solver, solver_opts=dict(options))
        t1 = time.process_time()
        raw = chain.solve_via_data(problem, data, False, False, dict(options))
        t2 = time.process_time()
        problem.unpack_results(raw, chain, inverse)
        t3 = time.process_time()
    problem._solver_cache.clear()
    for name, seconds in (("compile", t1 - t0), ("solve", t2 - t1), ("read", t3 - t2)):
        TIMES[name] = TIMES.get(name, 0.0) + seconds
    return program.SolveRecord(str(problem.status), raw)


def fresh(arrays: ProblemArrays) -> ProblemArrays:
    """A copy of ``arrays`` whose block nothing has made yet (a member's first build)."""
    return ProblemArrays(**{f.name: getattr(arrays, f.name) for f in fields(arrays)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=3000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    args = parser.parse_args()
    members = []
    for case in mix(args.specs, seed=0, infeasible=0.2, families=list(FAMILIES)):
        try:
            arrays = arrays_of(parse_spec_text(case.text, name=case.label))
        except SpecError:
            continue
        if arrays is not None:
            members.append(arrays)
    whole = stacked.build_stack(members, penalty=PENALTY)
    whole.solve("HIGHS")
    slack = stacked.block_slack(whole)
    assert slack is not None
    feasible = [a for a, s in zip(members, slack, strict=True) if s <= 1e-9]
    stacked.solve_problem = timed_solve  # type: ignore[assignment]
    print(
        f"{len(members)} stackable specs ({len(feasible)} feasible), load "
        f"{os.getloadavg()[0]:.1f}; ms a stack (CPU)"
    )
    print("size  kind     first build  rebuild  problem  compile   solve   read")
    kinds = (("plain", {}, feasible), ("priced", {"penalty": PENALTY}, members))
    kinds += (("elastic", {"elastic": True}, members),)
    for size in args.sizes:
        for kind, options, pool in kinds:
            if size > len(pool):
                continue
            reps = max(2, min(12, 3072 // size))
            TIMES.clear()
            first = rebuild = whole_solve = 0.0
            for rep in range(reps):
                start = (rep * size) % (len(pool) - size + 1)
                chosen = [fresh(a) for a in pool[start : start + size]]
                stacked.clear_cache()
                t = time.process_time()
                stacked.build_stack(chosen, **options)
                first += time.process_time() - t
                stacked.clear_cache()
                t = time.process_time()
                built = stacked.build_stack(chosen, **options)
                rebuild += time.process_time() - t
                t = time.process_time()
                built.solve("HIGHS")
                whole_solve += time.process_time() - t
            parts = [TIMES.get(k, 0.0) for k in ("compile", "solve", "read")]
            problem = whole_solve - sum(parts)
            row = [first, rebuild, problem, *parts]
            print(f"{size:4d}  {kind:8s}" + "".join(f"{1000 * v / reps:9.2f}" for v in row))


if __name__ == "__main__":
    main()
