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


def test_rows_primed_together_equal_one_by_one() -> None:
    """``deterrence.prime`` computes many members' rows at once: each member's direct
    rows, program rows, ``can_bind`` and ``Deterrence.values`` are bit for bit those it
    gets alone (risk neutral, averse and seeking agents, margins, false flags, rows that
    cannot bind, numbers beyond exp's range left to ``stable.py``)."""
    from deter.solver.formulation.components import deterrence
    from deter.solver.spec.loading import parse_spec_text

    from tests.support.vocabulary import generate

    def fresh(texts):
        return [ProblemArrays.from_spec(parse_spec_text(t)) for t in texts]

    texts = [
        generate(family, seed, infeasible=flag).text
        for family in (
            "linear",
            "cara_averse",
            "cara_seeking",
            "risk_seeking_limit",
            "degenerate",
            "ties",
        )
        for seed in range(6)
        for flag in (False, True)
    ]
    alone, together = fresh(texts), fresh(texts)
    deterrence.prime(together)
    primed = sum(a in deterrence._values_of for a in together)
    assert primed >= len(texts) // 2

    def numbers(a):
        rows = deterrence.incentive_rows(a)
        return [
            rows.loss,
            np.array([rows.false_flag_loss]),
            rows.need,
            *deterrence._program_rows(a),
            deterrence.can_bind(a),
            *deterrence.Deterrence().values(a).values(),
        ]

    for a, b in zip(alone, together, strict=True):
        assert [x.tobytes() for x in numbers(a)] == [x.tobytes() for x in numbers(b)]
