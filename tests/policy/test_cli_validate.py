"""``deter validate --policy``: policy documents checked from the command line (exit 2 when
bad, with a located message and no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.rl.reference import CODING_AGENT_POLICY
from typer.testing import CliRunner


def run(*args: str) -> object:
    return CliRunner().invoke(app, ["validate", "--policy", *args])


def test_a_valid_policy_passes(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(CODING_AGENT_POLICY))
    result = run(str(path))
    assert result.exit_code == 0, result.stderr
    assert f"{path}: ok (4 actions, 3 monitors)" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "deter-policy", "version": 1}', "monitors: is missing"),
        ("{oops", "not valid JSON"),
        ("[1, 2]", ""),
        ('{"format": "deter-policy", "version": 1, "rates": {"m": NaN}}', ""),
    ],
    ids=["missing_keys", "not_json", "not_an_object", "nan"],
)
def test_a_bad_policy_exits_2_with_a_located_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    result = run(str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert f"error: {path}" in result.stderr
    assert message in result.stderr


def test_json_report(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    doc = dict(CODING_AGENT_POLICY)
    del doc["rates"]
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["validate", "--policy", str(path), "-f", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["kind"] == "validation"
    (entry,) = report["files"]
    assert entry["valid"] is False and any(i["key"] == "rates" for i in entry["issues"])
