"""Stacks compiled once per structure and re-solved through cvxpy Parameters
(``formulation/stacked.py``): the same answers as a program built from constants."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from deter.solver.analysis.sweep import parse_vary, respec, spec_data
from deter.solver.formulation import stacked
from deter.solver.formulation.program import solve_problem
from deter.solver.formulation.stacked import build_stack
from deter.solver.model.arrays import ProblemArrays
from deter.solver.spec.loading import parse_spec_text

SPEC = """
version = 1
[agent]
penalty_cap = 10.0
risk_aversion = 0.2
false_positive_penalty = 1.0
[oversight]
budget = 3.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[actions]]
name = "hide"
gain = 1.5
[[monitors]]
name = "a"
cost = 2.0
false_positive = 0.01
detects = { cheat = 0.8, hide = 0.3 }
[[monitors]]
name = "b"
cost = 1.0
detects = { hide = 0.6 }
"""


def constant_answer(program: stacked.StackedProgram, **kw: object) -> tuple:
    """The same stack built from sparse constants (no Parameters, no cache)."""
    z = cp.Variable(program.c.size)
    problem = cp.Problem(
        cp.Minimize(program.c @ z), [program.g @ z <= program.h, program.e_matrix @ z == program.e]
    )
    record = solve_problem(problem, "HIGHS")
    return record.status, z.value, problem.constraints[0].dual_value


def points(path: str, values: str, count: int = 2) -> list[list[ProblemArrays]]:
    spec = parse_spec_text(SPEC)
    axis = parse_vary(spec, f"{path}={values}")
    base = spec_data(spec)
    arrays = [ProblemArrays.for_design(respec(spec, {axis.path: v}, base)) for v in axis.values]
    size = len(arrays) // count
    return [arrays[k * size : (k + 1) * size] for k in range(count)]


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("monitors.a.cost", "0.5:4:16"),  # costs: the objective and the budget row
        ("monitors.a.detects.hide", "0.05:0.9:16"),  # a detection entry of G
        ("agent.risk_aversion", "0.0:1.0:16"),  # incentive rows' weights and needs
        ("monitors.a.false_positive", "0.0:0.05:16"),  # E's entries (0 included)
        ("oversight.budget", "0.5:6:16"),  # feasible and infeasible points
    ],
)
def test_a_reused_stack_answers_as_one_built_from_constants(path: str, values: str) -> None:
    stacked.clear_cache()
    first, second = points(path, values)
    one, two = build_stack(first), build_stack(second)
    assert one.compiled is two.compiled or two.compiled.fits(two.g, two.e_matrix)
    for program in (one, two, build_stack(first)):
        status, z, lam = constant_answer(program)
        record = program.solve("HIGHS")
        assert record.status == status
        if status == "optimal":
            np.testing.assert_allclose(program.primal(), z, rtol=0, atol=1e-12)
            np.testing.assert_allclose(program.duals()[0], lam, rtol=0, atol=1e-9)


def test_sweep_stacks_compile_once() -> None:
    stacked.clear_cache()
    stacks = points("monitors.a.detects.hide", "0.05:0.9:32", count=4)
    programs = [build_stack(arrays).compiled for arrays in stacks]
    assert programs[0] is None  # a structure met once is solved as constants
    # the varying entries are Parameters from the second stack on: one compile
    assert programs[1] is not None and all(p is programs[1] for p in programs[2:])


def test_a_solved_stack_keeps_its_answer_when_its_program_is_reused() -> None:
    stacked.clear_cache()
    first, second = points("actions.cheat.gain", "0.5:4:16")
    build_stack(second)  # its structure, seen once: the stacks below share its program
    one, two = build_stack(first), build_stack(second)
    assert one.compiled is two.compiled is not None
    one.solve("HIGHS")
    kept = one.primal().copy(), one.duals()[0].copy()
    two.solve("HIGHS")
    assert not np.array_equal(one.primal(), two.primal())
    np.testing.assert_array_equal(one.primal(), kept[0])
    np.testing.assert_array_equal(one.duals()[0], kept[1])
