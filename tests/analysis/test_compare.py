"""compare: a known change between two policies is reported, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import deter
import pytest
from deter.cli.app import app
from deter.solver.analysis.compare import compare

from tests.support.reference import spec_text


def two_monitor_text(audit_cost: float) -> str:
    """One action; the audit is the only way to catch it, so its cost sets the total."""
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "steal", "gain": 2.0},
            {"name": "loaf", "gain": 0.5},
        ],
        monitors=[
            {"name": "audit", "cost": audit_cost, "detects": {"steal": 0.5}},
            {"name": "camera", "cost": 0.2, "detects": {"loaf": 0.25}},
        ],
        agent={"penalty_cap": 10.0},
    )


def test_a_known_difference_is_reported() -> None:
    old = deter.solve(deter.load_spec(two_monitor_text(1.0)))
    new = deter.solve(deter.load_spec(two_monitor_text(3.0)))
    comparison = compare(old, new)
    changed = {(r.section, r.item, r.field) for r in comparison.changes}
    # The audit's rate (2 / (0.5 * 10) = 0.4) is unchanged; its cost and the total triple.
    assert changed == {("policy", "", "total_cost"), ("monitor", "audit", "cost")}
    total = next(r for r in comparison.rows if r.field == "total_cost")
    assert total.a == pytest.approx(0.4 + 0.2 * 0.2)
    assert total.delta == pytest.approx(0.8)
    assert compare(old, old).changes == ()


def test_status_and_detection_changes() -> None:
    old = deter.solve(deter.load_spec(two_monitor_text(1.0)))
    text = two_monitor_text(1.0).replace("penalty_cap = 10.0", "penalty_cap = 3.0")
    new = deter.solve(deter.load_spec(text))  # 0.5 * 3 < 2: steal can no longer be deterred
    comparison = compare(old, new)
    status = next(r for r in comparison.rows if r.field == "status")
    assert (status.a, status.b, status.changed) == ("optimal", "infeasible", True)


def test_cli_compare_formats(runner: Any, write_spec: Any) -> None:
    a = write_spec(two_monitor_text(1.0), "old")
    b = write_spec(two_monitor_text(3.0), "new")
    run = runner.invoke(app, ["compare", str(a), str(b), "--format", "json"])
    assert run.exit_code == 0
    doc = json.loads(run.stdout)
    assert doc["changed"] == 2 and doc["b"]["total_cost"] == pytest.approx(1.24)
    run = runner.invoke(app, ["compare", str(a), str(b), "--format", "markdown"])
    assert run.stdout.startswith("### old vs new: 2 differences")
    assert "| **total_cost** | **0.44** | **1.24** | **+0.8 (+181.8%)** |" in run.stdout
    run = runner.invoke(app, ["compare", str(a), str(b)])
    assert run.exit_code == 0
    assert "! total_cost" in run.stdout and "! audit rate" not in run.stdout
    assert f"A: {a}" in run.stdout and f"B: {b}" in run.stdout  # whole paths, in the caption
    run = runner.invoke(app, ["compare", str(a), str(a)])
    assert "no differences" in run.stdout
