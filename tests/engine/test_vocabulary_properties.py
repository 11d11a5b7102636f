"""Properties over the whole spec vocabulary (issue 20): no wrong answer, no internal error.

The specs come from tests/support/vocabulary.py (seeded, so the same specs on every run and
every machine). Two judges, both independent of deter:

* the generator's construction: a spec made infeasible by a construction that proves it
  must not be answered "optimal", a spec made feasible (a witness policy checked with room)
  must not be answered "infeasible" or "solver_error"; deter must not raise (exit 5);
* the exact re-check and the reference (tests/support/exact_reference.py, exact_commitment.py,
  exact_exponential.py): an "optimal" policy must deter exactly, within the rate bounds and
  the budget, and cost no more than the reference's exactly checked policy (1e-6 relative).

Families with a known open failure are strict xfails naming the issue item; the owners remove
the mark with the fix (strict: a fixed family fails here until they do). Reproduce a family
with ``python bench/reliability.py --numeric 200 --families FAMILY``.
"""

from __future__ import annotations

import warnings
from typing import Any

import deter
import pytest

from tests.support.exact_reference import judge, parse
from tests.support.vocabulary import FAMILIES, Case, generate

# Known open failures, by family: the issue item that owns each (see /work/notes/failures/).
OPEN: dict[str, str] = {}
OPEN_LEAST_COST: dict[str, str] = {
    "budget": (
        "issue 20 item 4: a budget exactly at the least cost (budget-902) ends as solver_error: "
        "verification reports 'max relative violation inf' and every later attempt fails"
    ),
}

PER_FAMILY = 12  # specs per family for the construction judge (half made infeasible)
LEAST_COST_PER_FAMILY = 3  # specs per family judged against the reference


def _solve(case: Case) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are bench/reliability.py's to count
        return deter.solve(deter.loads(case.text)).to_dict(timing=False)


def _marked(family: str, open_items: dict[str, str]) -> Any:
    if family in open_items:
        return pytest.param(family, marks=pytest.mark.xfail(strict=True, reason=open_items[family]))
    return family


def _cases(family: str) -> list[Case]:
    # Held apart from the seeds the generator's own tests use (0-11).
    return [generate(family, 500 + k, k % 2 == 1) for k in range(PER_FAMILY)]


@pytest.mark.parametrize("family", [_marked(f, OPEN) for f in FAMILIES])
def test_answers_agree_with_the_construction(family: str) -> None:
    wrong: list[str] = []
    for case in _cases(family):
        assert case.expected in ("optimal", "infeasible"), case.label
        try:
            result = _solve(case)
        except Exception as error:  # exit 5 on a valid spec is a bug
            wrong.append(f"{case.label}: internal error {type(error).__name__}: {error}")
            continue
        if result["status"] != case.expected:
            wrong.append(
                f"{case.label}: deter {result['status']}, construction {case.expected} "
                f"({case.how}): {str(result.get('message'))[:160]}"
            )
            continue
        if result["status"] == "optimal":
            verdict = judge(case.text, result, ref=_no_reference())
            exact = [f for f in verdict.failures if f[0] in ("wrong_optimal", "roundoff_violation")]
            if exact:
                wrong.append(f"{case.label}: {exact}")
    assert not wrong, "\n".join(wrong)


def _no_reference() -> Any:
    from tests.support.exact_reference import Reference

    return Reference("undecided", note="construction judge only")


@pytest.mark.parametrize("family", [_marked(f, OPEN_LEAST_COST) for f in FAMILIES])
def test_least_cost_against_the_reference(family: str) -> None:
    wrong: list[str] = []
    for k in range(LEAST_COST_PER_FAMILY):
        case = generate(family, 900 + k)
        parse(case.text)  # the reference reads every key
        try:
            result = _solve(case)
        except deter.SpecError as error:
            assert "range deter computes in" in str(error), (case.label, str(error))
            continue
        except Exception as error:
            wrong.append(f"{case.label}: internal error {type(error).__name__}: {error}")
            continue
        verdict = judge(case.text, result)
        if verdict.failures:
            wrong.append(f"{case.label}: {verdict.failures}")
    assert not wrong, "\n".join(wrong)
