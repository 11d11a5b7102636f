"""The detection matrix is built directly in CSR form: the same arrays scipy's COO
constructor makes, for every pattern a spec can have."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.model.arrays import detection_matrix


def entries(rng: np.random.Generator, n_actions: int, n_monitors: int, density: float):
    """(rows, cols, vals) in the order ``from_spec`` makes them: monitor by monitor, each
    monitor's actions in any order, each pair once."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for j in range(n_monitors):
        for i in rng.permutation(n_actions):
            if rng.random() < density:
                rows.append(int(i))
                cols.append(j)
                vals.append(float(rng.uniform(1e-9, 1.0)))
    return rows, cols, vals


@pytest.mark.parametrize("seed", range(40))
def test_the_same_arrays_as_scipys_constructor(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_actions = int(rng.integers(1, 30))
    n_monitors = int(rng.integers(0, 12))  # no monitor at all included
    density = float(rng.choice([0.0, 0.1, 0.5, 1.0]))
    rows, cols, vals = entries(rng, n_actions, n_monitors, density)
    shape = (n_actions, n_monitors)
    made = detection_matrix(rows, cols, vals, shape)
    expected = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=float)
    assert type(made) is type(expected)
    assert made.shape == expected.shape
    assert made.dtype == expected.dtype
    for name in ("data", "indices", "indptr"):
        mine, theirs = getattr(made, name), getattr(expected, name)
        assert mine.dtype == theirs.dtype, name
        assert np.array_equal(mine, theirs), name
    assert made.has_sorted_indices and made.has_canonical_format
