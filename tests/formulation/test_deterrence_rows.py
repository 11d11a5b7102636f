"""The incentive rows of a spec's arrays are computed once (a batch reads them for the stack,
the checks, the rescaled units and the certificate) and cannot be changed by a reader."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from deter.solver.formulation.components import deterrence
from deter.solver.formulation.components.deterrence import Deterrence, can_bind
from deter.solver.model.arrays import ProblemArrays
from deter.solver.spec.loading import parse_spec_text

SPEC = """
[agent]
risk_aversion = 0.3
false_positive_penalty = 2.0

[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "steal"
gain = 2.0
penalty_cap = 10.0

[[actions]]
name = "loses"
gain = -5.0
penalty_cap = 1.0

[[monitors]]
name = "camera"
cost = 1.5
detects = { steal = 0.6 }
false_positive = 0.1
"""


def arrays() -> ProblemArrays:
    return ProblemArrays.from_spec(parse_spec_text(SPEC, file="s.toml", name="s"))


def test_rows_are_computed_once_per_arrays_and_equal_a_fresh_computation() -> None:
    a, b = arrays(), arrays()
    first = deterrence._program_rows(a)
    assert deterrence._program_rows(a) is first
    fresh = deterrence._computed_rows(b)
    for cached, computed in zip(first, fresh, strict=True):
        np.testing.assert_array_equal(cached, computed)
    assert Deterrence().values(a)["need"].tolist() == Deterrence().values(b)["need"].tolist()
    assert can_bind(a).tolist() == [True, False]


def test_a_reader_cannot_change_the_rows_the_next_one_reads() -> None:
    need, _, _ = deterrence._program_rows(arrays_kept := arrays())
    with pytest.raises(ValueError):
        need[0] = 0.0
    assert deterrence._program_rows(arrays_kept)[0][0] != 0.0


def test_rows_leave_with_their_arrays() -> None:
    a = arrays()
    deterrence._program_rows(a)
    count = len(deterrence._rows_of)
    del a
    gc.collect()
    assert len(deterrence._rows_of) == count - 1
