"""Notes: caveats attached to an optimal answer (here, overlapping inspections)."""

from __future__ import annotations

import json

import deter
from deter.cli.app import app

# Deterring hack needs P(caught) >= 6/10; each monitor catches with 0.5 per inspection, so
# their rates must add up to 1.2: inspections of one episode must overlap.
OVERLAP = """
[agent]
penalty_cap = 10
[[actions]]
name = "honest"
gain = 0
[[actions]]
name = "hack"
gain = 6
[[monitors]]
name = "a"
cost = 1
detects = { hack = 0.5 }
[[monitors]]
name = "b"
cost = 1
detects = { hack = 0.5 }
"""


def test_overlapping_inspections_are_noted() -> None:
    result = deter.solve(deter.load_spec(OVERLAP))
    assert result.status == "optimal"
    assert sum(m.rate for m in result.monitors) > 1
    assert len(result.notes) == 1
    assert "hack" in result.notes[0] and "exponential" in result.notes[0]


def test_no_note_when_inspections_can_be_disjoint() -> None:
    result = deter.solve(deter.load_spec(OVERLAP.replace("gain = 6", "gain = 3")))
    assert result.status == "optimal"
    assert sum(m.rate for m in result.monitors) <= 1 + 1e-9
    assert result.notes == ()


def test_notes_reach_json_and_table(runner, tmp_path) -> None:
    path = tmp_path / "overlap.toml"
    path.write_text(OVERLAP)
    as_json = runner.invoke(app, ["solve", str(path), "--format", "json"])
    assert as_json.exit_code == 0
    assert len(json.loads(as_json.stdout)["notes"]) == 1
    as_table = runner.invoke(app, ["solve", str(path)])
    assert "note: the rates of the monitors that detect hack" in as_table.stdout
