"""Measure deter against the exponential false-flag oracle (``flag_oracle.py``).

    PYTHONPATH=... python -m tests.support.flag_measure COUNT SEED [MONITORS]

prints counts: optimal / infeasible / solver_error, wrong optimal (above the oracle's cost
by more than 1e-6 relative), wrong infeasible (the oracle meets the spec), internal errors,
and solver_error where the oracle decides.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter

from deter.solver.engine.solve import solve
from deter.solver.spec.loading import load_text

from .flag_oracle import oracle, random_flag_spec

#: deter's answer may exceed the oracle's cost by this much (relative) and still be least.
RELATIVE = 1e-6


def main(count: int, seed: int, monitors: tuple[int, ...] = (1, 2)) -> Counter[str]:
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    began = time.perf_counter()
    for k in range(count):
        spec = random_flag_spec(rng, rng.choice(monitors))
        text = spec.toml()
        truth = oracle(spec)
        try:
            result = solve(load_text(text))
            status = str(result.status)
        except Exception as error:  # an internal error is what this counts
            counts["internal_error"] += 1
            print(f"internal error {error!r}\n{text}", file=sys.stderr)
            continue
        counts[status] += 1
        cost = result.total_cost if status == "optimal" else None
        wrong = None
        if status == "optimal" and truth.cost is not None:
            if cost is not None and cost > truth.cost * (1 + RELATIVE) + 1e-12:
                wrong = f"wrong_optimal {cost!r} > {truth.cost!r}"
        elif status == "optimal" and truth.decided:
            wrong = f"wrong_optimal: the oracle proves it infeasible, deter {cost!r}"
        elif status == "infeasible" and truth.cost is not None:
            wrong = f"wrong_infeasible: the oracle meets it at {truth.cost!r}"
        elif status == "solver_error" and (truth.cost is not None or truth.decided):
            counts["solver_error_decided"] += 1
            print(f"solver_error (decided) #{k}: {result.message}\n{text}", file=sys.stderr)
        if wrong:
            counts[wrong.split()[0].rstrip(":")] += 1
            print(f"#{k} {wrong}\n{text}", file=sys.stderr)
    counts["seconds"] = round(time.perf_counter() - began)
    return counts


if __name__ == "__main__":
    args = sys.argv[1:]
    mons = tuple(int(a) for a in args[2].split(",")) if len(args) > 2 else (1, 2)
    print(dict(main(int(args[0]), int(args[1]), mons)))
