"""Degenerate specs in the library (issue 20): no monitors, no deviations, nothing that pays,
a compliant action not listed first, ties. Each gets its answer by hand, with a diagnosis
that names what cannot be deterred, and the other questions (explain, sweep, frontier,
compare, simulate) answer too."""

from __future__ import annotations

import pytest
from deter import loads
from deter.solver.problem import Problem
from deter.solver.results.status import Status

from tests.support.degenerate_specs import EXPECTED, SPECS


def problem(name: str) -> Problem:
    return loads(SPECS[name], name=name)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_degenerate_spec_gets_its_answer(name: str) -> None:
    status, cost = EXPECTED[name]
    result = problem(name).solve()
    assert result.status == Status(status), result.message
    if cost is not None:
        assert result.total_cost == pytest.approx(cost, rel=1e-6, abs=1e-9)
    if result.status == Status.optimal:
        assert result.verification is not None and result.verification.passed


@pytest.mark.parametrize(
    "name",
    ["no_monitors_paying", "no_monitors_cara", "no_monitors_budget_exp", "no_monitors_types"],
)
def test_an_action_no_monitor_detects_is_diagnosed_as_such(name: str) -> None:
    result = problem(name).solve()
    assert result.status == Status.infeasible
    assert result.diagnosis is not None
    (cheat,) = [a for a in result.diagnosis.actions if a.name == "cheat"]
    assert not cheat.deterrable and cheat.max_detection == 0.0
    assert "no monitor" in cheat.reason and "cheat" in result.message


def test_typed_diagnosis_names_the_type_that_cannot_be_deterred() -> None:
    """Without monitors each type stands alone: t1 gains 2 from cheating, t2 loses 1."""
    result = problem("no_monitors_types").solve()
    assert result.diagnosis is not None
    (cheat,) = result.diagnosis.actions
    assert cheat.reason.startswith("type 't1': ")


def test_nothing_pays_without_monitors_is_free_and_every_action_deterred() -> None:
    result = problem("no_monitors_nothing_pays").solve()
    assert result.total_cost == 0.0 and result.monitors == ()
    assert all(a.deterred for a in result.actions if a.name != "ok")


def test_the_compliant_action_alone_costs_its_rate_floors() -> None:
    result = problem("only_compliant_floor").solve()
    assert [(m.name, m.rate) for m in result.monitors] == [("m", pytest.approx(0.25))]
    assert [a.name for a in result.actions] == ["ok"]


def test_order_of_actions_does_not_change_the_answer() -> None:
    first = SPECS["compliant_not_first"].replace('compliant = "ok"\n', "")
    swapped = first.replace('name = "cheat"\ngain = 2.0', 'name = "TMP"\ngain = 0.0', 1)
    swapped = swapped.replace('name = "ok"\ngain = 0.0', 'name = "cheat"\ngain = 2.0', 1)
    swapped = swapped.replace('name = "TMP"\ngain = 0.0', 'name = "ok"\ngain = 0.0', 1)
    a = problem("compliant_not_first").solve()
    b = loads(swapped).solve()
    assert a.total_cost == pytest.approx(b.total_cost, rel=1e-9)


def test_min_loss_without_monitors_leaves_the_action_and_counts_its_harm() -> None:
    result = problem("no_monitors_minloss").solve()
    assert result.status == Status.optimal
    (cheat,) = [a for a in result.actions if a.name == "cheat"]
    assert not cheat.deterred
    assert "harm left 3" in result.message


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_question_answers_a_degenerate_spec(name: str) -> None:
    p = problem(name)
    explanation = p.explain()
    assert explanation.status == EXPECTED[name][0]
    assert explanation.paragraphs or explanation.reason
    p.compare(p)
    frontier = p.frontier(points=2)
    assert frontier is not None
    if p.spec.agent.penalty_cap is not None:
        assert p.sweep("agent.penalty_cap=5,20") is not None
