"""A sweep's points made by changing only the varied numbers (``sweep.PointMaker``) are
the specs and arrays that validating each point whole (``respec``) and building its arrays
(``ProblemArrays.for_design``) give, and refused exactly where those refuse them, with the
same messages: checked on the whole vocabulary, every numeric path of each spec."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from deter.solver.analysis.sweep import PointMaker, parse_vary, respec, spec_data
from deter.solver.model.arrays import ProblemArrays
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.vocabulary import FAMILIES, generate


def numeric_paths(data: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted path to a number in spec data (list entries named by their name)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from numeric_paths(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for entry in data:
            if isinstance(entry, dict) and "name" in entry:
                yield from numeric_paths(entry, f"{prefix}{entry['name']}.")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix[:-1]


def outcome(make: Any) -> Any:
    try:
        return make()
    except SpecError as exc:
        return [str(issue) for issue in exc.issues]


def same_arrays(a: ProblemArrays, b: ProblemArrays) -> None:
    for item in fields(ProblemArrays):
        x, y = getattr(a, item.name), getattr(b, item.name)
        if sp.issparse(x):
            x, y = x.toarray(), y.toarray()
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=item.name)
        elif item.name == "roc":
            assert len(x) == len(y)
        else:
            assert x == y, item.name


@pytest.mark.parametrize("family", FAMILIES)
def test_points_are_the_specs_and_arrays_of_validating_each_point_whole(family: str) -> None:
    checked = 0
    for seed in range(3):
        spec = parse_spec_text(generate(family, seed).text)
        base = spec_data(spec)
        for path in sorted(set(numeric_paths(base))):
            try:
                axis = parse_vary(spec, f"{path}=1")
            except SpecError:
                continue  # not a path a sweep can vary (e.g. version, a gain interval's end)
            maker = PointMaker(spec, [axis])
            value = float(np.asarray(axis.values[0]))
            for new in (value, 0.0, 0.37, 2.5, -0.5, 1e-9, 40.0):
                fast = outcome(lambda: maker.spec_at([new]))  # noqa: B023
                whole = outcome(lambda: respec(spec, {axis.path: new}, base))  # noqa: B023
                assert fast == whole, (family, seed, path, new)
                if isinstance(whole, list):
                    continue
                same_arrays(maker.arrays_at(fast), ProblemArrays.for_design(whole))
                checked += 1
    assert checked > 0


TWO_RATES = """
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[monitors]]
name = "m"
cost = 1.0
detects = { cheat = 0.8 }
"""


def test_two_axes_that_clash_are_refused_as_validating_whole() -> None:
    spec = parse_spec_text(TWO_RATES)
    axes = [
        parse_vary(spec, "monitors.m.min_rate=0.1,0.6"),
        parse_vary(spec, "monitors.m.max_rate=0.2,0.9"),
    ]
    maker = PointMaker(spec, axes)
    base = spec_data(spec)
    for low in (0.1, 0.6):
        for high in (0.2, 0.9):
            fast = outcome(lambda: maker.spec_at([low, high]))  # noqa: B023
            changes = {axes[0].path: low, axes[1].path: high}
            assert fast == outcome(lambda: respec(spec, changes, base))  # noqa: B023
    assert isinstance(outcome(lambda: maker.spec_at([0.6, 0.2])), list)
