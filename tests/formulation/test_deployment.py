"""Fixed deployment costs: a mixed-integer program that reports which monitors run."""

from __future__ import annotations

import json

import pytest
from deter.cli.app import app
from deter.solver.engine.solve import solve
from deter.solver.engine.strategic import best_commitment
from deter.solver.model.types import StrategicArrays
from deter.solver.spec.loading import load_spec

from tests.support.strategy_specs import strategic_spec, strategic_text


def _choice(fixed: float, min_rate: float = 0.0):
    """cheat (gain 2, F 10) caught by 'plain' (c 1, q 0.5: rate 0.4, cost 0.4) or by 'cheap'
    (c 0.5, q 0.5: rate 0.4, cost 0.2 + fixed)."""
    return [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0}], [
        {"name": "plain", "cost": 1.0, "detects": {"cheat": 0.5}},
        {
            "name": "cheap",
            "cost": 0.5,
            "detects": {"cheat": 0.5},
            "fixed_cost": fixed,
            "min_rate": min_rate,
        },
    ]


@pytest.mark.parametrize("fixed, deployed, cost", [(0.3, "plain", 0.4), (0.1, "cheap", 0.3)])
def test_the_fixed_cost_decides_which_monitor_is_deployed(
    fixed: float, deployed: str, cost: float
) -> None:
    actions, monitors = _choice(fixed)
    result = solve(strategic_spec(actions, monitors, agent={"penalty_cap": 10.0}))
    assert result.status == "optimal"
    assert result.total_cost == pytest.approx(cost, rel=1e-6)
    assert {m.name for m in result.monitors if m.deployed} == {deployed}
    assert result.monitor(deployed).rate == pytest.approx(0.4, rel=1e-6)


def test_a_rate_floor_forces_deployment_and_its_fixed_cost() -> None:
    actions, monitors = _choice(0.3, min_rate=0.1)
    result = solve(strategic_spec(actions, monitors, agent={"penalty_cap": 10.0}))
    cheap = result.monitor("cheap")
    assert cheap.deployed and cheap.rate >= 0.1 - 1e-9
    # Deployed anyway, cheap alone at 0.4 costs 0.2 + 0.3 = 0.5; cheap at its floor 0.1
    # (0.35) leaves plain to add detection 0.35 at rate 0.7 (0.7): 1.05.
    assert result.total_cost == pytest.approx(0.5, rel=1e-6)


def test_without_fixed_costs_the_strategic_program_matches_the_core_solver() -> None:
    for path in ("problems/coding_agent.toml", "problems/minimal.toml"):
        spec = load_spec(path)
        core = solve(spec)
        ours = best_commitment(StrategicArrays.from_spec(spec), "deter_all")
        assert ours.status == "optimal"
        assert ours.cost == pytest.approx(core.total_cost, rel=1e-6)


def test_json_reports_deployed_per_monitor(runner, write_spec) -> None:
    actions, monitors = _choice(0.1)
    path = write_spec(strategic_text(actions, monitors, agent={"penalty_cap": 10.0}))
    out = runner.invoke(app, ["solve", str(path), "-f", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert {m["name"]: m["deployed"] for m in doc["monitors"]} == {"plain": False, "cheap": True}
    table = runner.invoke(app, ["solve", str(path)])
    assert "Deployment" in table.stdout
