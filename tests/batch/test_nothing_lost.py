"""Issue 25: nothing final that was transient, one hash of the bytes read, hostile ledgers.

Out-of-memory while loading is injected (``Faults.memory_on``), as ``ulimit -v`` would make
it; a ledger nested 200,000 deep is written for real.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from deter.cli.app import app
from deter.cli.exit_codes import ExitCode
from deter.solver.batch.faults import Faults
from deter.solver.batch.ledger import Ledger
from deter.solver.batch.run import run_batch
from deter.solver.batch.worker import OUT_OF_MEMORY, BatchOptions
from deter.solver.results.status import Status
from typer.testing import CliRunner

from tests.support.batch_helpers import one_action_spec


def _specs(folder: Path, count: int = 3) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(count):
        path = folder / f"s{k}.toml"
        path.write_text(one_action_spec(gain=1.0 + k, cap=10.0, detection=0.5))
        files.append(str(path))
    return files


def test_out_of_memory_while_loading_is_not_final_and_a_resume_solves_it(
    tmp_path: Path,
) -> None:
    files = _specs(tmp_path / "specs")
    ledger = tmp_path / "ledger.jsonl"
    starved = BatchOptions(faults=Faults(memory_on=frozenset({"s1.toml"})))
    first = run_batch(files, starved, ledger=Ledger(ledger))
    hungry = first.outcomes[1]
    assert hungry.status == Status.solver_error  # no verdict on the file: exit 3, not 2
    assert hungry.error == OUT_OF_MEMORY
    assert [o.status for o in first.outcomes[::2]] == [Status.optimal, Status.optimal]
    # with memory to spare, the resumed run solves it (and only it)
    again = run_batch(files, BatchOptions(), ledger=Ledger(ledger))
    assert [o.resumed for o in again.outcomes] == [True, False, True]
    assert again.outcomes[1].status == Status.optimal


def test_a_spec_with_a_byte_order_mark_has_one_hash_and_is_resumed(tmp_path: Path) -> None:
    spec = tmp_path / "bom.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + one_action_spec(gain=1.0, cap=10.0, detection=0.5).encode())
    ledger = tmp_path / "ledger.jsonl"
    runner = CliRunner()
    args = ["batch", str(spec), "-f", "jsonl", "--resume", str(ledger)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    (doc,) = [json.loads(line) for line in first.stdout.splitlines()]
    assert doc["sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()  # = sha256sum
    second = runner.invoke(app, args)
    (again,) = [json.loads(line) for line in second.stdout.splitlines()]
    assert again["timing"]["resumed"] is True
    assert again["sha256"] == doc["sha256"]
    assert len(ledger.read_text().splitlines()) == 1  # no duplicate line per run


def test_a_ledger_line_nested_200000_deep_is_refused_with_its_line(tmp_path: Path) -> None:
    files = _specs(tmp_path / "specs", 2)
    ledger = tmp_path / "ledger.jsonl"
    run_batch(files[:1], BatchOptions(), ledger=Ledger(ledger))
    with ledger.open("a") as handle:
        handle.write("[" * 200_000 + "]" * 200_000 + "\n")
        handle.write('{"ledger": 1, "outcome": ' + "[" * 200_000 + "\n")
    result = CliRunner().invoke(app, ["batch", *files, "-f", "jsonl", "--resume", str(ledger)])
    assert result.exit_code == ExitCode.OK, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["timing"]["resumed"] for d in docs] == [True, False]
    assert "2 unreadable line(s)" in result.stderr
    assert "line 2: nested deeper than" in result.stderr
