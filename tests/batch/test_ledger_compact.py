"""Compact ledger entries (issue 24 item 5): an entry is about the size of the file's
``-f jsonl`` line, and ``--resume`` still writes the whole output, byte for byte, in every
format (the ``-f json`` document carries each file's full result)."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
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
from deter.solver.batch.ledger_rows import ROWS_KEY, compact_rows, load_spec_arrays, restore_rows
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


# --- large specs: rows re-derived from the spec on reading (ledger_rows.py) ---------------


def _large_spec(
    actions: int,
    monitors: int,
    seed: int,
    *,
    budget: float | None = None,
    risk_aversion: float = 0.0,
    false_positive: float = 0.0,
) -> str:
    """A spec of many actions, each detected by a few monitors (deterministic numbers)."""
    rng = np.random.default_rng(seed)
    lines = ["version = 1", "[agent]", "penalty_cap = 60.0", f"risk_aversion = {risk_aversion}"]
    if false_positive:
        lines.append("false_positive_penalty = 0.5")
    if budget is not None:
        lines += ["[oversight]", f"budget = {budget}"]
    lines += ["[[actions]]", 'name = "comply"', "gain = 0.0"]
    for i in range(1, actions):
        lines += ["[[actions]]", f'name = "a{i}"', f"gain = {rng.uniform(0.1, 5):.4f}"]
    for j in range(monitors):
        seen = {
            *range(1 + j, actions, monitors),
            *rng.choice(np.arange(1, actions), size=actions // 6).tolist(),
        }
        detects = ", ".join(f"a{i} = {rng.uniform(0.2, 0.9):.3f}" for i in sorted(seen))
        lines += ["[[monitors]]", f'name = "m{j}"', f"cost = {rng.uniform(0.1, 3):.3f}"]
        lines.append(f"detects = {{ {detects} }}")
        if false_positive and j == 0:
            lines.append(f"false_positive = {false_positive}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[FileOutcome], Path]:
    """Specs of 120 actions and 8 monitors: optimal (risk neutral; risk averse with false
    flags, whose rows are partly not predicted) and infeasible (a budget below the least
    cost), solved once with a ledger."""
    folder = tmp_path_factory.mktemp("large")
    texts = [
        _large_spec(120, 8, 1),
        _large_spec(120, 8, 2, risk_aversion=0.3, false_positive=0.05),
        _large_spec(120, 8, 3, budget=0.01),
    ]
    files = []
    for k, text in enumerate(texts):
        path = folder / f"large{k}.toml"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    ledger = folder / "ledger.jsonl"
    run = run_batch(files, BatchOptions(), jobs=1, ledger=Ledger(ledger))
    assert [o.status for o in run.outcomes] == [Status.optimal, Status.optimal, Status.infeasible]
    return files, run.outcomes, ledger


def test_large_entries_keep_their_rows_as_differences_from_the_spec(large) -> None:
    _, outcomes, ledger = large
    lines = ledger.read_text(encoding="utf-8").splitlines()
    jsonl = [dumps(outcome_doc(o, for_file)) for o in outcomes]
    ratios = [len(entry) / len(line) for entry, line in zip(lines, jsonl, strict=True)]
    # before: ~16x at 300 actions (every action's row of numbers, packed)
    assert ratios[0] <= 2.0 and ratios[2] <= 2.0, ratios
    assert ratios[1] <= 2.5, ratios  # a risk-averse agent's rows are partly stored
    for line in lines:
        assert ROWS_KEY in unpack_result(json.loads(line)["outcome"]["result"])


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_large_specs_resume_to_the_same_output_in_every_format(large, fmt: BatchFormat) -> None:
    files, outcomes, ledger = large
    resumed = run_batch(files, BatchOptions(), jobs=1, ledger=Ledger(ledger))
    assert resumed.resumed == len(files)
    assert [o.result for o in resumed.outcomes] == [o.result for o in outcomes]
    first = render_run(BatchRun(files=files, outcomes=outcomes), fmt, for_file, timing=False)
    again = BatchRun(files=files, outcomes=resumed.outcomes)
    assert render_run(again, fmt, for_file, timing=False) == first


def test_rows_predicted_from_another_spec_still_restore_the_result_exactly(large) -> None:
    """A prediction only saves bytes: from the wrong spec's arrays, every row is stored."""
    files, outcomes, _ = large
    doc = json.loads(dumps(outcomes[0].result.to_dict()))
    other = load_spec_arrays(files[1], outcomes[1].sha256)
    compacted = compact_rows(json.loads(dumps(doc)), other)
    assert compacted is not None
    assert dumps(restore_rows(json.loads(dumps(compacted)), other)) == dumps(doc)
    own = load_spec_arrays(files[0], outcomes[0].sha256)
    assert len(dumps(compact_rows(json.loads(dumps(doc)), own))) < len(dumps(compacted)) / 3
    with pytest.raises(ValueError):  # restored with arrays it was not written for
        restore_rows(json.loads(dumps(compact_rows(json.loads(dumps(doc)), own))), other)


def test_an_entry_whose_spec_file_changed_or_went_is_refused(large, tmp_path: Path) -> None:
    files, outcomes, _ = large
    copy = tmp_path / "copy.toml"
    copy.write_text(Path(files[0]).read_text(encoding="utf-8"), encoding="utf-8")
    outcome = replace(outcomes[0], file=str(copy))
    entry = json.loads(json.dumps(entry_of(outcome, "opts")))
    assert read_entry(entry) == outcome
    copy.write_text(copy.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    with pytest.raises(ValueError):
        read_entry(entry)
    copy.unlink()
    with pytest.raises(ValueError):
        read_entry(entry)


def test_the_ledger_names_the_rows_key_as_ledger_rows_does() -> None:
    from deter.solver.batch import ledger, ledger_rows

    assert ledger._ROWS_KEY == ledger_rows.ROWS_KEY
