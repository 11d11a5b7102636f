"""Benchmark: would stacking cone programs (and MILPs) pay, as stacking plain LPs does? (issue #13)

Plain core LPs of a batch are solved 64 to a block-diagonal program (``engine/stacked.py``).
This measures the same idea for the programs that are not plain LPs, before building it:

* cone programs (Clarabel): exponential detection with false flags (``exp_flags``), penalty
  design with exponential detection (``penalty_exp``), penalty design with linear detection
  (``penalty_linear``: the cone only starts the exact rate-LP method, ``penalty_polish.py``);
* MILPs (HiGHS): agents with types under ``min_loss`` (the DOBSS search, ``types``), monitors
  with fixed deployment costs (``fixed_costs``).

For N random specs of a kind it times, in one process after a warm-up:

* ``engine``: ``deter.solve`` of each spec alone (the whole engine path: compile from the
  cache, the solver, verification, certificate, polish where it applies, the result);
* ``solve alone``: only the solver call(s) a stack would replace: each spec's program, from
  the cache, solved alone with the engine's options;
* ``stacked``: a prototype stack, all through cvxpy: each spec's program compiled afresh
  (its own variables), one problem whose objective is the sum of theirs and whose
  constraints are all of theirs, solved once; building it is counted;
* ``per-member checks``: after the stacked solve, each member judged from its own variables
  as the engine judges it alone (``judge_core``, or the polish), which stacking keeps.

and prints the per-spec figures and the whole-path ratio
``engine / (engine - solve alone + stacked)``: what a batch of such specs would gain per spec
if stacking replaced the solver calls and kept everything else. It also counts members
whose stacked answer fails their own verification, or whose cost differs from solving alone
by more than 1e-6 relative (each would have to be solved alone again).

Usage: python bench/bench_cone_stack.py [--n 64] [--kinds exp_flags,penalty_exp,...] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvxpy as cp
import deter
import numpy as np
from deter.solver.engine.attempts import CONIC_OPTIONS, EXACT_MIP
from deter.solver.engine.core import judge_core
from deter.solver.engine.verify import TOLERANCE
from deter.solver.formulation.commitment import build_commitment_program
from deter.solver.formulation.components import components_for
from deter.solver.formulation.program import compile_program, program_for, solve_problem
from deter.solver.model.arrays import ProblemArrays
from deter.solver.model.types import StrategicArrays
from deter.solver.spec.document import Spec

KINDS = ("exp_flags", "penalty_exp", "penalty_linear", "types", "fixed_costs")


def random_spec(rng: random.Random, kind: str) -> str:
    """A random small feasible spec of ``kind`` (2-6 actions, 1-4 monitors)."""
    n_actions, n_monitors = rng.randint(2, 6), rng.randint(1, 4)
    lines = ["version = 1", "", "[agent]", f"penalty_cap = {rng.uniform(20, 50):.4f}"]
    if kind == "exp_flags":
        lines.append(f"false_positive_penalty = {rng.uniform(0.5, 2):.3f}")
    if kind in ("exp_flags", "penalty_exp"):
        lines += ["", "[oversight]", 'detection = "exponential"']
    if kind == "types":
        lines += ["", "[oversight]", 'objective = "min_loss"']
    if kind.startswith("penalty"):
        design = rng.choice(["shared", "per_action"])
        lines += ["", "[penalty]", f'design = "{design}"', f"cost = {rng.uniform(0.005, 0.05):.4f}"]
    names = [f"a{i}" for i in range(n_actions)]
    for i, name in enumerate(names):
        gain = 0.0 if i == 0 else rng.uniform(0.1, 5.0)
        lines += ["", "[[actions]]", f'name = "{name}"', f"gain = {gain:.4f}"]
        if kind == "types" and i > 0:
            lines.append(f"harm = {rng.uniform(0.5, 8.0):.3f}")
    for j in range(n_monitors):
        # each deviation seen well (0.4-0.9) by one monitor, so every spec is feasible
        strong = [i % n_monitors == j for i in range(1, n_actions)]
        seen = [rng.uniform(0.4, 0.9) if s else rng.uniform(0.0, 0.3) for s in strong]
        table = ", ".join(f"{n} = {q:.3f}" for n, q in zip(names[1:], seen, strict=True))
        lines += ["", "[[monitors]]", f'name = "m{j}"', f"cost = {rng.uniform(0.1, 3):.3f}"]
        lines.append(f"detects = {{ {table} }}")
        if kind == "exp_flags":
            lines.append(f"false_positive = {rng.uniform(0.005, 0.05):.4f}")
        if kind == "fixed_costs":
            lines.append(f"fixed_cost = {rng.uniform(0.05, 1.0):.3f}")
    if kind == "types":
        for t, weight in enumerate((0.8, 0.2)):
            lines += ["", "[[types]]", f'name = "t{t}"', f"weight = {weight}"]
            if t:
                gains = ", ".join(f"{n} = {rng.uniform(3, 9):.3f}" for n in names[1:])
                lines.append(f"gains = {{ {gains} }}")
    return "\n".join(lines) + "\n"


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def objective_value(problem: cp.Problem) -> float:
    return float(problem.objective.value)


def core_case(specs: list[Spec]) -> dict[str, Any]:
    """Cone programs: alone (cached program, Clarabel) against one stacked Clarabel call."""
    arrays = [ProblemArrays.from_spec(s) for s in specs]
    assert all(not program_for(a).linear for a in arrays), "not a cone program"
    alone_seconds, alone_costs = 0.0, []
    for a in arrays:
        program = program_for(a)
        seconds, record = timed(lambda p=program: p.solve("CLARABEL", **CONIC_OPTIONS))
        alone_seconds += seconds
        alone_costs.append(objective_value(program.problem) if record.status == "optimal" else None)

    stages: dict[str, float] = {}

    def stack() -> tuple[list[Any], cp.Problem, Any]:
        began = time.perf_counter()
        programs = [compile_program(a, components_for(a), parametric=False) for a in arrays]
        objective = cp.sum([p.problem.objective.expr for p in programs])
        constraints = [c for p in programs for c in p.problem.constraints]
        problem = cp.Problem(cp.Minimize(objective), constraints)
        stages["build"] = time.perf_counter() - began
        record = solve_problem(problem, "CLARABEL", **CONIC_OPTIONS)
        stages["clarabel"] = float(getattr(record.raw, "solve_time", float("nan")))
        return programs, problem, record

    stacked_seconds, (programs, problem, record) = timed(stack)
    # The Clarabel call alone of the same specs, one by one (what no stack can go below).
    own = 0.0
    for a in arrays:
        program = program_for(a)
        raw = program.solve("CLARABEL", **CONIC_OPTIONS).raw
        own += float(getattr(raw, "solve_time", float("nan")))
    check_seconds, failed, differ = 0.0, 0, 0
    for a, program, cost in zip(arrays, programs, alone_costs, strict=True):
        seconds, verdict = timed(lambda a=a, p=program: judge_core(a, p, record, TOLERANCE))
        check_seconds += seconds
        failed += verdict.answer is None
        mine = objective_value(program.problem)
        if cost is None or abs(mine - cost) > 1e-6 * max(1.0, abs(cost)):
            differ += 1
    raw = record.raw
    return {
        "status": record.status,
        "iterations": getattr(raw, "iterations", "?"),
        "alone": alone_seconds,
        "stacked": stacked_seconds,
        "checks": check_seconds,
        "failed": failed,
        "differ": differ,
        "variables": sum(v.size for v in problem.variables()),
        "build": stages["build"],
        "clarabel stacked": stages["clarabel"],
        "clarabel alone": own,
    }


def milp_case(specs: list[Spec]) -> dict[str, Any]:
    """MILPs: each DOBSS / deployment program alone (HiGHS) against one stacked program."""
    data = [StrategicArrays.from_spec(s) for s in specs]
    objective = [s.oversight.objective for s in specs]

    def assignment(d: StrategicArrays, goal: str) -> Any:
        return None if goal == "min_loss" and d.n_types > 1 else (d.base.compliant,) * d.n_types

    alone_seconds, alone_costs = 0.0, []
    for d, goal in zip(data, objective, strict=True):
        program = build_commitment_program(d, assignment(d, goal))
        assert program.problem.is_mixed_integer(), "not a MILP"
        seconds, record = timed(lambda p=program: p.solve("HIGHS", **EXACT_MIP))
        alone_seconds += seconds
        alone_costs.append(objective_value(program.problem) if record.status == "optimal" else None)

    def stack() -> tuple[list[Any], Any]:
        programs = [
            build_commitment_program(d, assignment(d, g))
            for d, g in zip(data, objective, strict=True)
        ]
        total = cp.sum([p.problem.objective.expr for p in programs])
        constraints = [c for p in programs for c in p.problem.constraints]
        problem = cp.Problem(cp.Minimize(total), constraints)
        return programs, solve_problem(problem, "HIGHS", **EXACT_MIP)

    stacked_seconds, (programs, record) = timed(stack)
    differ = sum(
        cost is None or abs(objective_value(p.problem) - cost) > 1e-6 * max(1.0, abs(cost))
        for p, cost in zip(programs, alone_costs, strict=True)
    )
    return {
        "status": record.status,
        "iterations": "-",
        "alone": alone_seconds,
        "stacked": stacked_seconds,
        "checks": float("nan"),
        "failed": 0,
        "differ": differ,
        "variables": "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    header = (
        f"{'kind':15} {'N':>4} {'engine':>8} {'alone':>8} {'stacked':>8} {'checks':>8}"
        f" {'solve x':>8} {'path x':>7}  stack status, iters, failed, differ"
    )
    print("per spec, ms:")
    print(header)
    for kind in args.kinds.split(","):
        rng = random.Random(args.seed)
        for n in args.n:
            specs = [deter.loads(random_spec(rng, kind)).spec for _ in range(n)]
            warm = [deter.loads(random_spec(random.Random(99), kind)).spec]
            for spec in warm:
                deter.solve(spec)
            engine, results = timed(lambda s=specs: [deter.solve(x) for x in s])
            optimal = sum(r.status == "optimal" for r in results)
            case = milp_case if kind in ("types", "fixed_costs") else core_case
            figures = case(specs)
            alone, stacked = figures["alone"], figures["stacked"]
            path = engine / max(engine - alone + stacked, 1e-12)
            print(
                f"{kind:15} {n:>4} {1e3 * engine / n:8.2f} {1e3 * alone / n:8.2f}"
                f" {1e3 * stacked / n:8.2f} {1e3 * figures['checks'] / n:8.2f}"
                f" {alone / stacked:8.2f} {path:7.2f}  {figures['status']},"
                f" {figures['iterations']}, {figures['failed']}, {figures['differ']}"
                f"  ({optimal}/{n} optimal alone)"
            )
            if "build" in figures:
                rest = stacked - figures["build"] - figures["clarabel stacked"]
                print(
                    f"{'':15} {'':>4} stacked: building {1e3 * figures['build'] / n:.2f},"
                    f" Clarabel's own solve {1e3 * figures['clarabel stacked'] / n:.3f}"
                    f" (alone: {1e3 * figures['clarabel alone'] / n:.3f}), cvxpy's compile and"
                    f" unpack {1e3 * rest / n:.2f}"
                )
            if kind in ("types", "fixed_costs"):
                statuses = sorted({str(r.status) for r in results})
                print(f"{'':15} {'':>4} statuses alone: {', '.join(statuses)}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    np.seterr(all="warn")


if __name__ == "__main__":
    main()
