"""How a stack is assembled and compiled (``formulation/stacked.py``): blocks made once per
arrays in one numpy pass, the stack a concatenation of them, and a structure met once
solved as constants. The solver must get the same numbers as before, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.engine.diagnose import without_budget
from deter.solver.engine.stacked import PENALTY, arrays_of
from deter.solver.formulation import stacked
from deter.solver.formulation.program import quiet_native_output
from deter.solver.formulation.stacked import build_stack
from deter.solver.model.arrays import ProblemArrays
from deter.solver.spec.loading import parse_spec_text

from tests.support.vocabulary import mix

MODES = [{}, {"penalty": PENALTY}, {"elastic": True}]


@pytest.fixture(scope="module")
def members() -> list[ProblemArrays]:
    """Stackable arrays of the lp mix (every core key, 20% infeasible), budgets lifted too."""
    found = []
    for case in mix(160, seed=4, infeasible=0.2, families=["core", "cara", "degenerate"]):
        arrays = arrays_of(parse_spec_text(case.text, name=case.label))
        if arrays is not None:
            found.append(arrays)
    found += [without_budget(a) for a in found[:20] if a.budget is not None]
    assert len(found) > 100
    return found


def reference(members: list[ProblemArrays]) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """G, E and h written entry by entry from the layout in the module docstring, as scipy
    builds a matrix from coordinates (the oracle the numpy pass must equal bit for bit)."""
    g_entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    e_entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    rhs: list[np.ndarray] = []
    row = col = 0
    for k, arrays in enumerate(members):
        v = stacked.block_values(arrays)
        m, n = arrays.n_monitors, len(arrays.deviations)
        q = v["detection_matrix"]
        x, p, p0 = col + np.arange(m), col + m + np.arange(n), col + m + n
        weight = np.broadcast_to(np.asarray(v["detection_weight"], float), (n,))
        flag = np.broadcast_to(np.asarray(v["false_flag_weight"], float), (n,))
        need = np.broadcast_to(np.asarray(v["need"], float), (n,))
        families = [
            (m, [(x, -np.ones(m))], -np.asarray(v["min_rate"], float)),
            (m, [(x, np.ones(m))], np.asarray(v["max_rate"], float)),
            (n, [(p, np.ones(n)), ((q.row, x[q.col]), -q.data)], np.zeros(n)),
            (n, [(p, np.ones(n))], np.ones(n)),
            (n, [(p, -weight), (np.full(n, p0), flag)], -need),
        ]
        if arrays.budget is not None:
            budget = np.atleast_1d(np.asarray(v["scaled_budget"], float))
            families.append((1, [((np.zeros(m, int), x), v["scaled_cost"])], budget))
        for count, entries, right in families:
            rid = row + np.arange(count)
            for where, values in entries:
                at, columns = (where[0], where[1]) if isinstance(where, tuple) else (None, where)
                g_entries.append((rid if at is None else rid[at], columns, values))
            rhs.append(right)
            row += count
        f = np.asarray(v["false_positive"], float)
        e_entries.append((np.full(m + 1, k), np.append(x, p0), np.append(-f, 1.0)))
        col = p0 + 1

    def matrix(entries: list, shape: tuple[int, int]) -> sp.csr_matrix:
        r, c, d = (np.concatenate([e[i] for e in entries]) for i in range(3))
        return sp.csr_matrix((np.asarray(d, float), (r, c)), shape=shape)

    return (
        matrix(g_entries, (row, col)),
        matrix(e_entries, (len(members), col)),
        np.concatenate(rhs),
    )


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_a_stack_holds_the_numbers_scipy_writes_from_coordinates(members) -> None:
    rng = np.random.default_rng(0)
    for size in (1, 3, 40, len(members)):
        chosen = [members[i] for i in rng.choice(len(members), size, replace=False)]
        stacked._pieces.clear()
        program = build_stack(chosen)
        g, e, h = reference(chosen)
        for ours, theirs in ((program.g, g), (program.e_matrix, e)):
            assert ours.shape == theirs.shape
            for name in ("indptr", "indices", "data"):
                assert same_bits(getattr(ours, name), getattr(theirs, name)), name
        assert same_bits(program.h, h)
        again = build_stack(chosen)  # from the cached blocks
        assert same_bits(again.g.data, program.g.data) and same_bits(again.h, program.h)


def test_the_numpy_pass_orders_entries_as_scipy_does() -> None:
    rng = np.random.default_rng(1)
    for repeats in (False, True):
        row = rng.integers(0, 30, 400)
        col = rng.integers(0, 12, 400)
        if not repeats:
            keep = np.unique(row * 12 + col, return_index=True)[1]
            row, col = row[keep], col[keep]
        data = rng.normal(size=row.size)
        data[::7] = 0.0  # explicit zeros stay
        data[::11] = -0.0
        indptr, indices, values = stacked._csr_arrays(row, col, data, (30, 12))
        expected = sp.csr_matrix((data, (row, col)), shape=(30, 12))
        assert np.array_equal(indptr, expected.indptr)
        assert np.array_equal(indices, expected.indices)
        assert same_bits(values, expected.data)


def test_each_block_is_made_once_and_read_only(members) -> None:
    stacked._pieces.clear()
    one = build_stack(members[:10])
    pieces = [stacked._pieces[a] for a in members[:10]]
    build_stack(members[5:20], penalty=PENALTY)
    assert all(stacked._pieces[a] is piece for a, piece in zip(members[:10], pieces, strict=True))
    with pytest.raises(ValueError):
        pieces[0].g_data[0] = 1.0
    assert [b.rows for b in one.blocks] == [b.rows for b in build_stack(members[:10]).blocks]


def solver_data(problem) -> list:
    with quiet_native_output():
        data, _, _ = problem.get_problem_data("HIGHS")
    a = data["A"].tocsc()
    bounds = [data.get(key) for key in ("lower_bounds", "upper_bounds")]
    bounds = [np.zeros(0) if b is None else np.asarray(b, float) for b in bounds]
    return [data["c"], a.indptr, a.indices, a.data, data["b"], str(data["dims"]), *bounds]


@pytest.mark.parametrize("mode", MODES, ids=["plain", "priced", "elastic"])
def test_constants_and_parameters_give_the_solver_the_same_numbers(members, mode) -> None:
    """A stack solved once is compiled as constants, a structure met again with Parameters:
    cvxpy must hand HiGHS the same model either way (so the answers are the same bits)."""
    rng = np.random.default_rng(2)
    for size in (1, 7, 60):
        program = build_stack(
            [members[i] for i in rng.choice(len(members), size, replace=False)], **mode
        )
        constant = stacked._Constant(program)
        none = np.zeros(program.g.nnz, dtype=bool)
        parametric = stacked._Compiled(
            program.mode, program.g, program.e_matrix, program.slack_rows, none,
            np.zeros(program.e_matrix.nnz, dtype=bool),
        )  # fmt: skip
        parametric.load(program)
        for ours, theirs in zip(
            solver_data(constant.problem), solver_data(parametric.problem), strict=True
        ):
            assert ours == theirs if isinstance(ours, str) else same_bits(ours, theirs)


def test_a_batch_of_unrelated_stacks_compiles_nothing_into_the_cache(members) -> None:
    stacked.clear_cache()
    for start in range(0, 90, 30):
        program = build_stack(members[start : start + 30])
        assert program.compiled is None
        program.solve("HIGHS")
    assert not stacked._cache
    again = build_stack(members[:30])  # a structure met before: compiled with Parameters
    assert again.compiled is not None and len(stacked._cache) == 1
