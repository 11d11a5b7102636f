"""Spec validation of the strategic keys: harm, objective, types, interval gains, fixed_cost,
[auditor]. Every error names the key path and, where the text has it, the line."""

from __future__ import annotations

import pytest
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.strategy_specs import strategic_text

ACTIONS = [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0}]
MONITORS = [{"name": "inspector", "cost": 1.0, "detects": {"cheat": 0.5}}]
AGENT = {"penalty_cap": 10.0}


def _issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, file="bad.toml")
    return [str(issue) for issue in caught.value.issues]


def test_the_new_keys_parse() -> None:
    spec = parse_spec_text(
        strategic_text(
            [
                {"name": "comply", "gain": [0.0, 0.5]},
                {"name": "cheat", "gain": [1, 3], "harm": 0.4},
            ],
            [{**MONITORS[0], "fixed_cost": 2.0}],
            agent=AGENT,
            oversight={"objective": "min_loss"},
            types=[
                {"name": "t1", "weight": 0.25, "gains": {"cheat": [2.0, 4.0]}},
                {"name": "t2", "weight": 0.75, "risk_aversion": 0.1},
            ],
        )
    )
    assert spec.actions[1].gain == (1.0, 3.0) and spec.actions[1].harm == 0.4
    assert spec.types[0].gains["cheat"] == (2.0, 4.0)
    assert spec.monitors[0].fixed_cost == 2.0


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"types": [{"name": "t", "weight": 0.5}]}, "types.t.weight: type weights must sum to 1"),
        (
            {"types": [{"name": "t", "weight": 1.0, "gains": {"chaet": 1.0}}]},
            "types.t.gains.chaet: unknown action 'chaet' (did you mean 'cheat'?)",
        ),
        (
            {"types": [{"name": "t", "weight": 0.5}, {"name": "t", "weight": 0.5}]},
            "duplicate type name 't'",
        ),
        (
            {"auditor": {"monitor": "inspectr", "inspection_cost": 1.0}},
            "auditor.monitor: unknown monitor 'inspectr' (did you mean 'inspector'?)",
        ),
        (
            {"auditor": {"monitor": "inspector", "inspection_cost": -1.0}},
            "auditor.inspection_cost: must be greater than or equal to 0",
        ),
        (
            {
                "auditor": {"monitor": "inspector", "inspection_cost": 1.0},
                "types": [{"name": "t", "weight": 1.0}],
            },
            "auditor: an [auditor] game is solved for one",
        ),
    ],
)
def test_cross_field_errors_name_the_key(change: dict, expected: str) -> None:
    issues = _issues(strategic_text(ACTIONS, MONITORS, agent=AGENT, **change))
    assert any(expected in issue for issue in issues), issues


@pytest.mark.parametrize(
    "actions, expected",
    [
        (
            [ACTIONS[0], {"name": "cheat", "gain": [3.0, 1.0]}],
            "actions.cheat.gain: the interval [3, 1] has its low end above its high end",
        ),
        (
            [ACTIONS[0], {"name": "cheat", "gain": [1.0, 2.0, 3.0]}],
            "actions.cheat.gain: must be a finite number or an interval",
        ),
        ([ACTIONS[0], {"name": "cheat", "gain": "high"}], "actions.cheat.gain: must be a finite"),
        (
            [ACTIONS[0], {"name": "cheat", "gain": 1.0, "harm": -1.0}],
            "actions.cheat.harm: must be greater than or equal to 0",
        ),
    ],
)
def test_bad_gains_and_harms(actions: list, expected: str) -> None:
    issues = _issues(strategic_text(actions, MONITORS, agent=AGENT))
    assert any(expected in issue for issue in issues), issues


def test_errors_carry_the_line() -> None:
    text = strategic_text(ACTIONS, MONITORS, agent=AGENT, oversight={"objective": "min_los"})
    (issue,) = _issues(text)
    line = next(k for k, row in enumerate(text.splitlines(), 1) if "min_los" in row)
    assert issue.startswith(f"bad.toml:{line}") and "oversight.objective" in issue
