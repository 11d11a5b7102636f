"""``Result.from_dict`` is the exact inverse of ``to_dict`` on every bundled problem, and a
result survives pickling (batch workers hand results back to the parent as objects)."""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import replace
from pathlib import Path

import deter
import pytest
from deter.solver.results.result import Result, Verification
from deter.solver.results.status import Status

from tests.support.paths import PROBLEMS

FILES = sorted(PROBLEMS.glob("*.toml")) + sorted((PROBLEMS / "infeasible").glob("*.toml"))


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.relative_to(PROBLEMS).as_posix())
def result(request: pytest.FixtureRequest) -> Result:
    return deter.solve(deter.load_spec(str(request.param)))


def test_from_dict_inverts_to_dict(result: Result) -> None:
    doc = json.loads(json.dumps(result.to_dict()))  # through JSON text, as a ledger holds it
    back = Result.from_dict(doc)
    assert back == result
    assert back.timing == result.timing  # not part of equality, but carried
    assert back.to_dict() == result.to_dict()
    assert type(back.status) is Status


def test_a_result_pickles_to_an_equal_result(result: Result) -> None:
    assert pickle.loads(pickle.dumps(result)) == result


def test_the_bundled_problems_exercise_every_nested_part() -> None:
    """The round trip above covers verification, duality, diagnosis and strategy."""
    results = [deter.solve(deter.load_spec(str(f))) for f in FILES]
    assert any(r.diagnosis is not None and r.diagnosis.actions for r in results)
    assert any(r.verification is not None and r.verification.duality is not None for r in results)
    assert any(r.strategy is not None and r.strategy.types for r in results)
    assert any(r.strategy is not None and r.strategy.auditor is not None for r in results)
    assert {r.status for r in results} == {Status.optimal, Status.infeasible}


def test_a_status_given_as_a_string_becomes_the_enum(result: Result) -> None:
    again = replace(result, status=str(result.status.value))
    assert type(again.status) is Status and again == result


def test_a_non_finite_figure_reads_back_as_null_again() -> None:
    """The only lossy case: NaN or infinity is written as null, and writes as null again."""
    result = deter.solve(deter.load_spec(str(PROBLEMS / "minimal.toml")))
    assert result.verification is not None
    broken = replace(
        result,
        verification=replace(result.verification, max_violation=math.inf, checks=()),
        total_cost=math.nan,
    )
    doc = broken.to_dict(timing=False)
    assert doc["verification"]["max_violation"] is None and doc["total_cost"] is None
    back = Result.from_dict(doc)
    assert isinstance(back.verification, Verification)
    assert math.isnan(back.verification.max_violation) and back.total_cost is None
    assert back.to_dict(timing=False) == doc


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(schema_version=2),
        lambda d: d.update(status="splendid"),
        lambda d: d.update(surprise=1),
        lambda d: d.pop("monitors"),
    ],
    ids=["schema-version", "status", "unknown-key", "missing-key"],
)
def test_from_dict_refuses_what_is_not_a_result_document(change, tmp_path: Path) -> None:
    doc = deter.solve(deter.load_spec(str(PROBLEMS / "minimal.toml"))).to_dict()
    change(doc)
    with pytest.raises((TypeError, ValueError)):
        Result.from_dict(doc)
