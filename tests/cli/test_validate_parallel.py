"""Issue 25, item 10: ``deter validate`` of many files runs in worker processes, as batch
does, with the same output, in the same order, as one process gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.cli.commands import validate as validate_command
from typer.testing import CliRunner

from tests.support.batch_helpers import BAD_KEY_SPEC, one_action_spec


def test_validating_many_files_in_workers_gives_what_one_process_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    good = one_action_spec(gain=1.0, cap=10.0, detection=0.5)
    for k in range(600):
        (folder / f"s{k:04d}.toml").write_text(BAD_KEY_SPEC if k in (7, 333) else good)
    runner = CliRunner()
    monkeypatch.setattr(validate_command, "PARALLEL_MIN", 100)
    monkeypatch.setattr(validate_command, "CHUNK", 64)
    monkeypatch.setattr("deter.solver.batch.run.default_jobs", lambda: 2)
    parallel = runner.invoke(app, ["validate", str(folder), "-f", "json"])
    text = runner.invoke(app, ["validate", str(folder)])
    monkeypatch.setattr(validate_command, "PARALLEL_MIN", 10**9)
    serial = runner.invoke(app, ["validate", str(folder), "-f", "json"])
    assert parallel.exit_code == serial.exit_code == 2
    assert parallel.stdout == serial.stdout and parallel.stderr == serial.stderr
    files = json.loads(parallel.stdout)["files"]
    assert len(files) == 600 and [f["valid"] for f in files].count(False) == 2
    assert not files[7]["valid"] and not files[333]["valid"]
    assert text.stdout.count(": ok (") == 598 and "s0007.toml" in text.stderr
