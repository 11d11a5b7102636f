"""The one serialiser: NaN and infinity become null, enums their values, dataclasses objects;
``restore`` rebuilds typed values from that data, strictly."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pytest
from deter.solver.results.errors import Finding, SpecIssue
from deter.solver.results.serialise import csv_cell, dumps, jsonable, restore
from deter.solver.results.status import Status


@dataclass(frozen=True)
class Inner:
    x: float
    label: str = ""


@dataclass(frozen=True)
class Outer:
    status: Status
    inner: Inner | None
    items: tuple[Inner, ...] = ()
    rates: dict[str, float] = field(default_factory=dict)
    maybe: float | None = None


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = Outer(
        Status.solver_error,
        Inner(math.inf),
        (Inner(-math.inf), Inner(math.nan, "n")),
        {"a": math.nan, "b": 0.5},
    )
    assert jsonable(value) == {
        "status": "solver_error",
        "inner": {"x": None, "label": ""},
        "items": [{"x": None, "label": ""}, {"x": None, "label": "n"}],
        "rates": {"a": None, "b": 0.5},
        "maybe": None,
    }
    assert "NaN" not in dumps(value) and "Infinity" not in dumps(value)


def test_dumps_refuses_what_json_cannot_hold_rather_than_writing_nan() -> None:
    with pytest.raises(TypeError):
        dumps({"a": object()})


def test_status_serialises_as_the_same_text_as_its_string() -> None:
    for status in Status:
        assert json.dumps(status) == json.dumps(str(status.value))
        assert json.dumps({status: status}) == json.dumps({status.value: status.value})
        assert dumps([status]) == json.dumps([status.value])
        assert f"{status}" == status.value and repr(status) == repr(status.value)
        assert status == status.value and Status(status.value) is status


def test_enum_values_and_keys_become_plain_values() -> None:
    plain = jsonable({Status.optimal: (Status.infeasible,)})
    assert plain == {"optimal": ["infeasible"]}
    assert type(next(iter(plain))) is str and type(plain["optimal"][0]) is str


def test_csv_cells_leave_missing_and_non_finite_values_empty() -> None:
    assert [csv_cell(v) for v in (None, math.nan, math.inf, 1.5, Status.optimal, "x")] == [
        "",
        "",
        "",
        1.5,
        "optimal",
        "x",
    ]


def test_restore_is_the_inverse_of_jsonable() -> None:
    value = Outer(Status.optimal, Inner(1.0, "a"), (Inner(2.0),), {"m": 0.25}, maybe=3.0)
    back = restore(Outer, json.loads(dumps(value)))
    assert back == value
    assert type(back.status) is Status and isinstance(back.items, tuple)


def test_restore_reads_a_null_float_as_nan_and_a_null_optional_as_none() -> None:
    back = restore(Outer, jsonable(Outer(Status.optimal, Inner(math.inf))))
    assert back.inner is not None and math.isnan(back.inner.x)
    assert back.maybe is None


@pytest.mark.parametrize(
    "data",
    [
        {"status": "optimal", "inner": None, "surprise": 1},  # unknown key
        {"inner": None},  # missing required field
        {"status": "splendid", "inner": None},  # not a status
        {"status": "optimal", "inner": {"x": "1.0"}},  # a string for a number
        {"status": "optimal", "inner": None, "items": {"x": 1.0}},  # an object for a list
    ],
)
def test_restore_refuses_data_that_is_not_the_type(data: dict) -> None:
    with pytest.raises((TypeError, ValueError)):
        restore(Outer, data)


def test_one_finding_type_for_spec_issues_and_requirements() -> None:
    assert SpecIssue is Finding
    issue = SpecIssue("a.toml", "actions.x.gain", "must be a number", 3, 7)
    assert (
        issue.kind == "bad_input" and str(issue) == "a.toml:3:7: actions.x.gain: must be a number"
    )
    failed = Finding(
        "a.toml", "max_cost", "too dear", 2, kind="requirement", limit="1", measured="2"
    )
    assert restore(Finding, json.loads(dumps(failed))) == failed


def test_subclasses_of_plain_types_take_the_general_rules() -> None:
    """The exact-type shortcut for str/int/float/dict/list leaves every subclass to the rules
    it always had: an enum its value, a numpy float a float, an IntEnum its int, a non-finite
    numpy float null, an ordered or default dict an object with plain keys."""
    from collections import OrderedDict, defaultdict
    from enum import IntEnum

    import numpy as np

    class Level(IntEnum):
        high = 2

    value = {
        "s": Status.optimal,
        "i": Level.high,
        "b": True,
        "f": np.float64(0.25),
        "nan": np.float64("nan"),
        "o": OrderedDict([(Status.infeasible, [np.float64("inf"), 1])]),
        "d": defaultdict(list, {"k": (1.5, None)}),
    }
    plain = jsonable(value)
    assert plain == {
        "s": "optimal",
        "i": 2,
        "b": True,
        "f": 0.25,
        "nan": None,
        "o": {"infeasible": [None, 1]},
        "d": {"k": [1.5, None]},
    }
    assert type(plain["s"]) is str and type(plain["i"]) is int and plain["b"] is True
    assert type(next(iter(plain["o"]))) is str
    assert json.loads(dumps(value)) == plain
