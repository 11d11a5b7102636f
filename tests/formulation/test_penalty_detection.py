"""The penalty design written in its detections (solver/formulation/penalty_detection.py):
its multipliers against the closed form (Clarabel stops near the optimum: 1e-4 relative;
the engine only takes them as where to look and recomputes its bound from them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.formulation.penalty_detection import detection_program_duals


def _one_action(budget: float | None = None, cap: float = 100.0):  # type: ignore[no-untyped-def]
    # One paying action (need k = 2), one monitor detecting it with certainty at cost 4,
    # penalties at a = 0.5 per unit: min 4 x + 0.5 * 2 / t, t <= x.
    return detection_program_duals(
        np.array([4.0]),
        sp.csr_matrix(np.array([[1.0]])),
        np.array([2.0]),
        np.array([cap]),
        0.5,
        np.array([0.0]),
        np.array([1.0]),
        budget,
        shared=False,
    )


def test_an_interior_optimum_prices_the_row_at_the_rate_cost() -> None:
    # x = t = sqrt(a k / c) = 0.5; the row t <= x is priced at the monitor's cost, 4.
    duals = _one_action()
    assert duals is not None
    assert duals.detection[0] == pytest.approx(math.sqrt(0.5 * 2.0 / 4.0), rel=1e-4)
    assert duals.rows[0] == pytest.approx(4.0, rel=1e-4)
    assert duals.budget == 0.0


def test_a_binding_budget_gets_its_multiplier() -> None:
    # Budget 1 allows x <= 0.25: t = 0.25; stationarity in t: y = a k / t^2 = 16 = (1 + nu) 4.
    duals = _one_action(budget=1.0)
    assert duals is not None
    assert duals.detection[0] == pytest.approx(0.25, rel=1e-4)
    assert duals.rows[0] == pytest.approx(16.0, rel=1e-4)
    assert duals.budget == pytest.approx(3.0, rel=1e-4)


def test_nothing_to_price_gives_none() -> None:
    empty = detection_program_duals(
        np.array([1.0]),
        sp.csr_matrix((0, 1)),
        np.zeros(0),
        np.zeros(0),
        0.5,
        np.zeros(1),
        np.ones(1),
        None,
        shared=False,
    )
    assert empty is None
