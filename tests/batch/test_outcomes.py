"""The outcome boundary of a batch: workers hand back typed results, the ledger stores and
reads them back exactly, and one module decides every exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deter.cli.exit_codes import (
    ExitCode,
    for_checked_file,
    for_file,
    for_run,
    for_status,
)
from deter.solver.analysis.requirements import RequirementOverrides
from deter.solver.batch.ledger import LEDGER_VERSION, Ledger, unpack_result
from deter.solver.batch.outcome import FINAL_STATUSES, FileOutcome
from deter.solver.batch.run import BatchRun, run_batch
from deter.solver.batch.worker import BatchOptions, solve_file
from deter.solver.results.errors import Finding
from deter.solver.results.result import Result
from deter.solver.results.status import Status

from tests.support.batch_helpers import one_action_spec, write_folder
from tests.support.paths import PROBLEMS

BUNDLED = sorted(PROBLEMS.glob("*.toml")) + sorted((PROBLEMS / "infeasible").glob("*.toml"))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[FileOutcome]:
    """Every bundled problem and the helper folder's bad and infeasible files, checked, in
    worker processes."""
    folder = write_folder(tmp_path_factory.mktemp("outcomes") / "specs", n_good=2)
    files = [str(p) for p in BUNDLED] + [str(folder["bad"]), str(folder["infeasible"])]
    options = BatchOptions(check=RequirementOverrides(max_cost=1.0))
    run = run_batch(files, options, jobs=2)
    assert [o.file for o in run.outcomes] == files
    return run.outcomes


def test_workers_hand_back_the_typed_result(outcomes: list[FileOutcome]) -> None:
    solved = [o for o in outcomes if o.status != Status.bad_input]
    assert solved and all(isinstance(o.result, Result) for o in solved)
    for o in solved:
        assert o.result is not None and o.result.status is o.status
        assert type(o.status) is Status
        assert o.total_cost == o.result.total_cost
    # (whether every bundled problem solves is tests/results' and the engine's to say)
    assert {Status.optimal, Status.infeasible, Status.bad_input} <= {o.status for o in outcomes}


def test_the_ledger_reads_back_what_it_wrote(outcomes: list[FileOutcome], tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(outcomes, "opts")
    ledger.close()
    for line in (tmp_path / "ledger.jsonl").read_text().splitlines():
        doc = json.loads(line)  # strict JSON: no NaN or Infinity
        assert doc["ledger"] == LEDGER_VERSION
        outcome = doc["outcome"]
        if outcome["result"] is not None:  # the result as `deter solve -f json --no-timing`
            result = unpack_result(outcome["result"])  # packed (test_ledger_compact.py)
            assert result["schema_version"] == 1 and "timing" not in result
    read = Ledger(tmp_path / "ledger.jsonl").read("opts")
    final = [o for o in outcomes if o.status in FINAL_STATUSES]  # what --resume skips
    assert sorted(r.file for r in read.values()) == sorted(o.file for o in final)
    for o in final:
        back = next(r for r in read.values() if r.file == o.file)
        assert back == o  # findings, result (nested verification, diagnosis, strategy) and all
    for o in outcomes:
        assert FileOutcome.from_dict(o.to_dict()) == o


def test_findings_of_every_kind_name_their_file(outcomes: list[FileOutcome]) -> None:
    kinds = {f.kind for o in outcomes for f in o.findings}
    assert {"bad_input", "infeasible", "requirement"} <= kinds
    for o in outcomes:
        assert all(isinstance(f, Finding) and f.file == o.file for f in o.findings)


def test_a_ledger_line_of_the_earlier_format_still_resumes() -> None:
    """Before findings were one type they carried no file or column; such lines still read."""
    doc = {
        "file": "a.toml",
        "status": "bad_input",
        "total_cost": None,
        "error": "a.toml:8: actions.cheat.penalty_kap: unknown key",
        "name": None,
        "sha256": "0" * 64,
        "seconds": 0.01,
        "findings": [
            {
                "kind": "bad_input",
                "message": "unknown key",
                "line": 8,
                "key": "actions.cheat.penalty_kap",
                "limit": None,
                "measured": None,
            }
        ],
        "checked": False,
        "rates": None,
        "result": None,
    }
    outcome = FileOutcome.from_dict(doc)
    assert outcome.findings == (Finding("a.toml", "actions.cheat.penalty_kap", "unknown key", 8),)
    assert outcome.status is Status.bad_input


def test_a_ledger_line_that_is_not_an_outcome_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    good = FileOutcome(file="a.toml", status=Status.optimal, sha256="0" * 64)
    bad = {"ledger": LEDGER_VERSION, "options": "opts", "outcome": {**good.to_dict(), "x": 1}}
    path.write_text(json.dumps(bad) + "\n")
    Ledger(path).append([good], "opts")
    assert list(Ledger(path).read("opts").values()) == [good]


def test_option_fingerprints_are_those_of_earlier_versions() -> None:
    """Ledgers written before the serialiser was shared still match (values taken from the
    version that wrote them with json.dumps)."""
    assert BatchOptions().fingerprint() == "91b6f84cba7ecfc3"
    checked = BatchOptions(
        solvers=("HIGHS",),
        max_bytes=10,
        check=RequirementOverrides(max_cost=2.5, max_rate={"b": 0.5, "a": 0.25}),
    )
    assert checked.fingerprint() == "c93aee26f48108c9"


# --- exit codes ---------------------------------------------------------------------------


def test_status_codes() -> None:
    assert [for_status(s) for s in Status] == [0, 1, 3, 2, 1]
    assert for_status("optimal") is ExitCode.OK and for_status("no such status") == 3


def test_batch_and_check_codes_of_a_file() -> None:
    requirement = Finding("a.toml", "max_cost", "too dear", kind="requirement")
    cases = {
        # status, findings: (batch, check)
        (Status.optimal, ()): (0, 0),
        (Status.optimal, (requirement,)): (0, 1),
        (Status.infeasible, ()): (1, 0),  # check: deter_all switched off
        (Status.infeasible, (requirement,)): (1, 1),
        (Status.solver_error, ()): (3, 3),
        (Status.bad_input, ()): (2, 2),
    }
    for (status, findings), codes in cases.items():
        outcome = FileOutcome(file="a.toml", status=status, findings=findings)
        assert (for_file(outcome), for_checked_file(outcome)) == codes, (status, findings)


def test_a_run_exits_with_its_worst_file_and_130_when_interrupted() -> None:
    """An interrupted run's code is the process's (130), whatever its files' were: the
    summary and the JSON say what the shell sees."""
    files = ["a.toml", "b.toml"]
    bad = FileOutcome(file="b.toml", status=Status.bad_input)
    assert for_run(BatchRun(files=files), for_file) == 0
    assert for_run(BatchRun(files=files, outcomes=[bad]), for_file) == 2
    assert for_run(BatchRun(files=files, interrupted=True), for_file) == ExitCode.INTERRUPTED
    interrupted = BatchRun(files=files, outcomes=[bad], interrupted=True)
    assert for_run(interrupted, for_file) == 130
    # a lost cluster is the environment's failure: the rest has no verified answer (3)
    lost = BatchRun(files=files, interrupted=True, lost="lost the Dask scheduler")
    assert for_run(lost, for_file) == ExitCode.SOLVER_FAILED


def test_the_progress_bar_counts_the_files_whose_code_is_not_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import sys

    from deter.cli.commands import batch as cmd_batch

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    allowed = FileOutcome(file="a.toml", status=Status.infeasible)  # deter_all = false
    with cmd_batch._progress(1, for_checked_file) as advance:
        advance(allowed)
    assert "0 failed" in screen.getvalue()


def test_solve_file_keeps_the_result_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(one_action_spec(1.0, 10.0, 0.5))
    kept = solve_file(str(path), BatchOptions())
    dropped = solve_file(str(path), BatchOptions(keep_results=False))
    assert isinstance(kept.result, Result) and dropped.result is None
    assert kept.rates == dropped.rates and kept.status is dropped.status is Status.optimal
