"""Compact ledger entries (issue 24 item 5): an entry is about the size of the file's
``-f jsonl`` line, and ``--resume`` still writes the whole output, byte for byte, in every
format (the ``-f json`` document carries each file's full result)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from deter.cli.exit_codes import for_file
from deter.cli.render.batch import BatchFormat, outcome_doc, render_run
from deter.solver.batch import ledger as ledger_module
from deter.solver.batch.ledger import (
    RESULT_CODEC,
    Ledger,
    entry_of,
    read_entry,
    unpack_result,
)
from deter.solver.batch.ledger_dictionary import RESULT_DICTIONARY
from deter.solver.batch.outcome import FINAL_STATUSES, FileOutcome
from deter.solver.batch.run import BatchRun, run_batch
from deter.solver.batch.worker import BatchOptions
from deter.solver.results.serialise import dumps
from deter.solver.results.status import Status

from tests.support.vocabulary import mix

#: Every group of the vocabulary: stacked LPs, cones, MILPs, strategic programs.
FAMILIES = (
    "linear",
    "budget",
    "cara_averse",
    "no_monitors",
    "ties",
    "min_loss",
    "types",
    "exponential",
    "roc",
    "penalty_design",
)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[FileOutcome], Path]:
    """A mixed corpus (a fifth infeasible) solved once, its ledger written as it went."""
    folder = tmp_path_factory.mktemp("compact")
    files = []
    for case in mix(20, seed=5, infeasible=0.2, families=FAMILIES):
        path = folder / f"{case.label}.toml"
        path.write_text(case.text, encoding="utf-8")
        files.append(str(path))
    ledger = folder / "ledger.jsonl"
    run = run_batch(files, BatchOptions(), jobs=1, ledger=Ledger(ledger))
    assert {o.status for o in run.outcomes} >= {Status.optimal, Status.infeasible}
    return files, run.outcomes, ledger


def _final(files: list[str], outcomes: list[FileOutcome]) -> tuple[list[str], list[FileOutcome]]:
    """The files a resume skips (a final status); the others are solved again, and a
    search that ends at a time limit need not give the same output twice."""
    kept = [(f, o) for f, o in zip(files, outcomes, strict=True) if o.status in FINAL_STATUSES]
    return [f for f, _ in kept], [o for _, o in kept]


def test_entries_are_about_the_size_of_the_jsonl_line(solved) -> None:
    _, outcomes, ledger = solved
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(outcomes)
    jsonl = [dumps(outcome_doc(o, for_file)) for o in outcomes]
    ratios = [len(entry) / len(line) for entry, line in zip(lines, jsonl, strict=True)]
    # before: 7.5x over the corpus, up to 11x a file (the result as plain JSON)
    assert sum(map(len, lines)) <= 2.0 * sum(map(len, jsonl)), ratios
    assert max(ratios) <= 3.0, ratios
    for line in lines:  # the result is packed, not plain JSON
        packed = json.loads(line)["outcome"]["result"]
        assert packed is None or packed.startswith(f"{RESULT_CODEC}:")


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_resume_writes_the_same_output_in_every_format(solved, fmt: BatchFormat) -> None:
    files, outcomes, ledger = solved
    files, outcomes = _final(files, outcomes)
    resumed = run_batch(files, BatchOptions(), jobs=1, ledger=Ledger(ledger))
    assert resumed.resumed == len(files) and all(o.resumed for o in resumed.outcomes)
    assert [o.result for o in resumed.outcomes] == [o.result for o in outcomes]
    fresh = BatchRun(files=files, outcomes=outcomes)
    again = BatchRun(files=files, outcomes=resumed.outcomes)
    first = render_run(fresh, fmt, for_file, timing=False)
    second = render_run(again, fmt, for_file, timing=False)
    assert first == second


def test_an_entry_reads_back_equal_to_the_outcome(solved) -> None:
    _, outcomes, _ = solved
    for o in outcomes:
        entry = json.loads(json.dumps(entry_of(o, "opts")))
        assert read_entry(entry) == o


def test_a_ledger_of_the_first_version_still_resumes(solved, tmp_path: Path) -> None:
    """Version 1 kept the result as plain JSON inside the outcome; such ledgers are the
    user's files and keep working."""
    files, outcomes, _ = solved
    old = tmp_path / "old.jsonl"
    fingerprint = BatchOptions().fingerprint()
    old.write_text(
        "".join(
            dumps({"ledger": 1, "options": fingerprint, "outcome": o.to_dict()}) + "\n"
            for o in outcomes
        ),
        encoding="utf-8",
    )
    files, outcomes = _final(files, outcomes)
    run = run_batch(files, BatchOptions(), jobs=1, ledger=Ledger(old))
    assert run.resumed == len(files)
    assert [o.result for o in run.outcomes] == [o.result for o in outcomes]
    assert render_run(run, BatchFormat.json, for_file, timing=False) == render_run(
        BatchRun(files=files, outcomes=outcomes), BatchFormat.json, for_file, timing=False
    )


def _packed(payload: bytes, dictionary: bytes = RESULT_DICTIONARY) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=dictionary)
    return f"{RESULT_CODEC}:" + base64.b85encode(packer.compress(payload) + packer.flush()).decode()


@pytest.mark.parametrize(
    "packed",
    [
        'z1:not base85 ~~~"',
        "z9:" + _packed(b"{}")[3:],  # another codec
        _packed(b'{"a": 1}', dictionary=b"another dictionary"),
        _packed(b"[" * 10_000 + b"]" * 10_000),  # hostile nesting
        _packed(b" " * 20_000),  # inflating past the limit (lowered below)
        _packed(b'{"a": 1}')[:-4],  # cut short
    ],
)
def test_a_damaged_packed_result_is_refused(packed: str, monkeypatch) -> None:
    monkeypatch.setattr(ledger_module, "MAX_RESULT_BYTES", 10_000)
    with pytest.raises(ValueError):
        unpack_result(packed)


def test_a_damaged_entry_is_skipped_and_its_file_solved_again(solved, tmp_path: Path) -> None:
    files, outcomes, ledger = solved
    lines = ledger.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    packed = first["outcome"]["result"]
    assert packed is not None
    first["outcome"]["result"] = packed[:-8] + "00000000"
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    reader = Ledger(damaged)
    files, outcomes = _final(files, outcomes)
    run = run_batch(files, BatchOptions(), jobs=1, ledger=reader)
    assert run.resumed == len(files) - 1 and not run.outcomes[0].resumed
    assert run.outcomes[0].status == outcomes[0].status
