"""A budget below the rate floors' cost, by as little as 1e-17, is infeasible, decided
exactly before any solve (bench/peers.py found 4 of 300 Stackelberg instances, all such
knife-edge budgets, answered solver_error: the candidates' polishes failed the exact budget
row). The two specs are bench/peers.py's: a min_loss spec whose floored monitor has a fixed
cost, and a typed one."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import deter
import pytest
from deter.cli.app import app
from typer.testing import CliRunner

DATA = Path(__file__).parent / "data"
SPECS = ["floors_over_budget_fixed_cost.toml", "floors_over_budget_typed.toml"]


def floors_minus_budget(spec: deter.Spec) -> Fraction:
    floors = sum(
        (
            Fraction(m.cost) * Fraction(m.min_rate) + (Fraction(m.fixed_cost) if m.min_rate else 0)
            for m in spec.monitors
        ),
        Fraction(0),
    )
    assert spec.oversight.budget is not None
    return floors - Fraction(spec.oversight.budget)


@pytest.mark.parametrize("name", SPECS)
def test_a_budget_just_under_the_floors_is_infeasible(name: str) -> None:
    spec = deter.load_spec(DATA / name)
    assert 0 < floors_minus_budget(spec) < Fraction(1, 10**9)  # a knife edge, in exact units
    result = deter.solve(spec)
    assert result.status == "infeasible", result.message
    assert "rate floors alone" in result.message


@pytest.mark.parametrize("name", SPECS)
def test_the_same_budget_at_the_floors_is_feasible(name: str) -> None:
    text = (DATA / name).read_text()
    spec = deter.load_spec(DATA / name)
    gap = floors_minus_budget(spec)
    budget = spec.oversight.budget
    assert budget is not None
    raised = float(Fraction(budget) + gap) * (1 + 1e-12)  # just over the floors
    changed = deter.loads(text.replace(f"budget = {budget!r}", f"budget = {raised!r}", 1))
    assert changed.spec.oversight.budget == raised
    assert changed.solve().status != "infeasible"


def test_the_command_exits_1_with_the_reason() -> None:
    reply = CliRunner().invoke(app, ["solve", str(DATA / SPECS[0])])
    assert reply.exit_code == 1, reply.output
    assert "rate floors alone" in reply.output
