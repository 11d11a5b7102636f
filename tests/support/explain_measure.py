"""Measure ``deter explain``'s constraint prices on generated exponential false-flag specs.

    PYTHONPATH=... python -m tests.support.explain_measure START COUNT

For seeds START .. START + COUNT - 1 of the vocabulary's ``exponential_fp`` family (with
``bench/reliability.py``'s flags: seeds 4 mod 5 infeasible, 3 mod 5 feasible by
construction) it solves each spec and, for each optimal answer, counts whether it carries
constraint prices (``Result.duals``) and compares each relaxation ``explain`` offers with a
one-sided finite difference of re-solved specs (step 1e-4 of the value, relative 3e-3).
Prints the counts and each mismatch, and the reason of each answer without prices.
"""

from __future__ import annotations

import math
import sys
from collections import Counter

import deter
from deter.solver.analysis.explain import explain
from deter.solver.analysis.sweep import set_value

from .vocabulary import generate

#: A finite difference and a marginal agree within this (relative; absolute 1e-6 of the cost).
RELATIVE = 3e-3


def flag(seed: int) -> bool | None:
    """``bench/reliability.py``'s construction flag of a seed."""
    return {4: True, 3: False}.get(seed % 5)


def main(start: int, count: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for seed in range(start, start + count):
        spec = deter.loads(generate("exponential_fp", seed, flag(seed)).text).spec
        result = deter.solve(spec)
        if result.status != "optimal" or result.total_cost is None:
            continue
        counts["optimal"] += 1
        if result.duals is None:
            counts["no prices"] += 1
            print("no prices", seed, [n for n in result.notes if "price" in n], flush=True)
            continue
        counts["priced"] += 1
        explanation = explain(spec, result)
        for relaxation in explanation.relaxations:
            counts["relaxations"] += 1
            now = relaxation.current
            step = 1e-4 * max(abs(now), 1e-2) * (1 if relaxation.relaxed > now else -1)
            other = deter.solve(set_value(spec, relaxation.path, now + step))
            if other.status != "optimal" or other.total_cost is None:
                counts["difference not solved"] += 1
                continue
            slope = (other.total_cost - result.total_cost) / step
            tolerance = 1e-6 * max(1.0, result.total_cost)
            if math.isclose(relaxation.marginal, slope, rel_tol=RELATIVE, abs_tol=tolerance):
                counts["match"] += 1
            else:
                counts["mismatch"] += 1
                print("MISMATCH", seed, relaxation.path, relaxation.marginal, slope, flush=True)
    return counts


if __name__ == "__main__":
    print(dict(main(int(sys.argv[1]), int(sys.argv[2]))))
