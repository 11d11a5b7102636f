"""A 1,000-point sweep: reusing one compiled program against rebuilding it at every point.

    python bench/bench_sweep.py [--points 1000] [--spec problems/coding_agent.toml]
    python bench/bench_sweep.py --spec problems/tax_audit.toml \
        --vary 'actions.underreport_cash_income.gain=0.5:30:{points}'   # most points infeasible
    python bench/bench_sweep.py --all [--points 200]   # every bundled problem, ratio only

``--all`` sweeps every ``problems/*.toml``: the gain of its most tempting action from a
quarter to 4 times its value (a monitor's cost where no action has a fixed gain), which
leaves many points infeasible in budgeted problems; it prints the stacked sweep's time, the
loop's and their ratio per problem, and exits 1 when any point's status or cost differs.

Three runs of the same sweep: ``run_sweep`` (the points as blocks of stacked programs,
compiled once per structure and re-solved through cvxpy Parameters), the loop of library
solves ``run_sweep(solve=deter.solve)`` (one cached program per shape, Parameters
re-assigned, one solve per point: the issue's reference, goal 10x) and the same loop with
the program cache cleared before every point (a fresh compile each time, as a naive loop
would). Prints the times, per-point figures and the ratios; the answers of the runs are
checked to agree (status, and cost to 1e-7 relative).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import deter
from deter.solver.analysis.sweep import parse_vary, run_sweep
from deter.solver.formulation import program as program_module

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repository root for tests.support

from tests.support.sweeps import tempting_axis  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--spec", type=Path, default=ROOT / "problems" / "coding_agent.toml")
    parser.add_argument("--vary", default="monitors.llm_judge.cost=0.01:1.0:{points}")
    parser.add_argument("--all", action="store_true", help="every bundled problem, ratio only")
    args = parser.parse_args()
    if args.all:
        raise SystemExit(every_problem(args.points))
    spec = deter.load_spec(args.spec)
    axis = parse_vary(spec, args.vary.format(points=args.points))
    deter.solve(spec)  # import cvxpy and solvers before timing

    started, cpu = time.perf_counter(), time.process_time()
    reused = run_sweep(spec, [axis])  # stacked: 64 points a program (engine/stacked.py)
    reuse_seconds = time.perf_counter() - started
    reuse_cpu = time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    per_point = run_sweep(spec, [axis], solve=deter.solve)  # one cached program, point by point
    per_point_seconds = time.perf_counter() - started
    per_point_cpu = time.process_time() - cpu

    def fresh_solve(point_spec: deter.Spec) -> deter.solver.results.result.Result:  # type: ignore[name-defined]
        program_module._cache.clear()  # forces compile_program for this point
        return deter.solve(point_spec)

    started = time.perf_counter()
    rebuilt = run_sweep(spec, [axis], solve=fresh_solve)
    rebuild_seconds = time.perf_counter() - started

    core_reuse, core_rebuild = core_timings(spec, axis)

    for a, b in [
        *zip(reused.points, rebuilt.points, strict=True),
        *zip(per_point.points, rebuilt.points, strict=True),
    ]:
        assert a.status == b.status
        if a.total_cost is not None and b.total_cost is not None:
            assert abs(a.total_cost - b.total_cost) <= 1e-7 * max(1.0, abs(a.total_cost))
    n = len(reused.points)
    optimal = sum(p.ok for p in reused.points)
    infeasible = sum(p.status == "infeasible" for p in reused.points)
    print(f"machine: load average {os.getloadavg()[0]:.2f}")
    print(
        f"spec: {args.spec.name}; sweep {axis.name} over {n} points ({optimal} optimal, "
        f"{infeasible} infeasible)"
    )
    print(
        f"stacked, 64 points a program: {reuse_seconds:8.2f} s  "
        f"({1000 * reuse_seconds / n:6.2f} ms/point)"
    )
    print(
        f"one cached program per point: {per_point_seconds:8.2f} s  "
        f"({1000 * per_point_seconds / n:6.2f} ms/point)"
    )
    print(
        f"rebuilding at every point:    {rebuild_seconds:8.2f} s  "
        f"({1000 * rebuild_seconds / n:6.2f} ms/point)"
    )
    print(
        f"RATIO loop of library solves (deter.solve per point) / stacked sweep: "
        f"{per_point_seconds / reuse_seconds:.2f}x  (goal >= 10, issue 24)"
    )
    print(
        f"CPU time (steadier under load): stacked {1000 * reuse_cpu / n:6.2f} ms/point, loop "
        f"{1000 * per_point_cpu / n:6.2f} ms/point, ratio {per_point_cpu / reuse_cpu:.2f}x"
    )
    print(
        f"rebuild / reuse: {rebuild_seconds / reuse_seconds:.2f}x  (whole deter.solve per point, "
        "verification and every post-solve step included)"
    )
    print(
        f"program only (load Parameters + HiGHS) reusing: {1000 * core_reuse / n:6.2f} ms/point; "
        f"compiling afresh: {1000 * core_rebuild / n:6.2f} ms/point; "
        f"ratio {core_rebuild / core_reuse:.2f}x"
    )


def agree(a: deter.Sweep, b: deter.Sweep) -> bool:  # type: ignore[name-defined]
    """Every point's status equal, and its cost within 1e-7 relative."""
    for p, q in zip(a.points, b.points, strict=True):
        if p.status != q.status:
            return False
        costs = (p.total_cost, q.total_cost)
        if None not in costs and abs(costs[0] - costs[1]) > 1e-7 * max(1.0, abs(costs[0])):
            return False
    return True


def every_problem(points: int) -> int:
    """The stacked sweep against the loop of library solves on every bundled problem."""
    print(f"machine: load average {os.getloadavg()[0]:.2f}")
    header = f"{'problem':32} {'axis':44} {'optimal':>7} {'infeas':>6}"
    print(f"{header} {'stacked':>9} {'loop':>9} ratio")
    wrong = 0
    for path in sorted((ROOT / "problems").glob("*.toml")):
        spec = deter.load_spec(path)
        vary = tempting_axis(spec, points)
        if vary is None:
            print(f"{path.name:32} (no plain numeric gain or cost to vary)")
            continue
        axis = parse_vary(spec, vary)
        deter.solve(spec)  # this family's imports and first compilation, before timing
        started = time.perf_counter()
        stacked = run_sweep(spec, [axis])
        stacked_seconds = time.perf_counter() - started
        started = time.perf_counter()
        loop = run_sweep(spec, [axis], solve=deter.solve)
        loop_seconds = time.perf_counter() - started
        ok = agree(stacked, loop)
        wrong += not ok
        optimal = sum(p.ok for p in stacked.points)
        infeasible = sum(p.status == "infeasible" for p in stacked.points)
        print(
            f"{path.name:32} {vary.split('=')[0]:44} {optimal:7} {infeasible:6}"
            f" {1000 * stacked_seconds / points:7.2f}ms {1000 * loop_seconds / points:7.2f}ms"
            f" {loop_seconds / stacked_seconds:5.2f}x" + ("" if ok else "  DIFFERENT ANSWERS")
        )
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 1 if wrong else 0


def core_timings(spec: deter.Spec, axis: object) -> tuple[float, float]:
    """The compiled program alone: Parameters re-assigned, or a fresh compile, then HiGHS."""
    from deter.solver.analysis.sweep import grid, respec, spec_data
    from deter.solver.formulation.components import components_for
    from deter.solver.model.arrays import ProblemArrays

    base = spec_data(spec)
    arrays = [
        ProblemArrays.from_spec(respec(spec, {axis.path: values[0]}, base))  # type: ignore[attr-defined]
        for _, values in grid([axis])  # type: ignore[list-item]
    ]
    started = time.perf_counter()
    for a in arrays:
        program_module.program_for(a).solve("HIGHS")
    reuse = time.perf_counter() - started
    started = time.perf_counter()
    for a in arrays:
        program_module.compile_program(a, components_for(a), parametric=True).solve("HIGHS")
    return reuse, time.perf_counter() - started


if __name__ == "__main__":
    main()
