"""deter batch: discovery, isolation of bad files and dead workers, formats, resume, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import deter
import pytest
from deter.cli.app import app
from deter.solver.batch.faults import Faults
from deter.solver.batch.ledger import Ledger
from deter.solver.batch.run import discover, run_batch
from deter.solver.batch.worker import BatchOptions
from typer.testing import CliRunner

from tests.support.batch_helpers import (
    BAD_KEY_LINE,
    UNDETERRABLE_LINE,
    one_action_spec,
    two_action_spec,
    write_folder,
)

#: An injected hang: long enough that no load makes a run that cuts it off take as long, so
#: "finished before HANG" tells a timeout that fired from one that did not.
HANG = 300


def jsonl(text: str) -> dict[str, dict]:
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {Path(d["file"]).name: d for d in docs}


def test_discovery_of_files_folders_and_globs(tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs")
    (tmp_path / "specs" / "notes.txt").write_text("not a spec")
    found, unmatched = discover(
        [
            str(tmp_path / "specs"),
            str(files["good_00"]),
            str(tmp_path / "specs" / "good_0*.toml"),
            "missing/*.toml",
        ]
    )
    assert sorted(found) == sorted(str(p) for p in files.values())  # no duplicates, no .txt
    assert unmatched == ["missing/*.toml"]


def test_batch_solves_each_file_like_solve_and_isolates_bad_ones(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = write_folder(tmp_path / "specs")
    result = runner.invoke(
        app,
        [
            "batch",
            str(tmp_path / "specs"),
            "-f",
            "jsonl",
            "--jobs",
            "2",
            "-v",  # the full summary after a machine format too
        ],
    )
    assert result.exit_code == 2, result.stderr  # worst code: a bad file
    docs = jsonl(result.stdout)
    assert len(docs) == len(files)
    for name, path in files.items():
        doc = docs[path.name]
        assert {"file", "status", "total_cost", "error"} <= doc.keys()
        if name.startswith("good"):
            expected = deter.solve(deter.load_spec(path))
            assert doc["status"] == "optimal" and doc["exit_code"] == 0
            assert doc["total_cost"] == pytest.approx(expected.total_cost, rel=1e-6)
            assert doc["rates"] == pytest.approx(
                {m.name: m.rate for m in expected.monitors}, rel=1e-6, abs=1e-9
            )
    # the closed form of the one-action specs: rate = gain / (detection * cap)
    assert docs["good_02.toml"]["rates"]["inspector"] == pytest.approx(3.0 / (0.5 * 20.0))
    assert docs["bad_key.toml"]["status"] == "bad_input"
    assert "penalty_kap" in docs["bad_key.toml"]["error"]
    assert docs["undeterrable.toml"]["status"] == "infeasible"
    assert docs["undeterrable.toml"]["exit_code"] == 1
    assert "summary" in result.stderr and "optimal" in result.stderr


def test_exit_code_is_the_worst_per_file_code(runner: CliRunner, tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs")
    good = [str(p) for n, p in files.items() if n.startswith("good")]
    assert runner.invoke(app, ["batch", *good, "-f", "csv"]).exit_code == 0
    assert (
        runner.invoke(app, ["batch", *good, str(files["infeasible"]), "-f", "csv"]).exit_code == 1
    )


def test_github_annotations_point_at_the_offending_line(runner: CliRunner, tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs", n_good=1)
    result = runner.invoke(app, ["batch", str(tmp_path / "specs"), "-f", "github"])
    lines = result.stdout.splitlines()
    assert all(line.startswith("::error file=") for line in lines)
    # The bad spec has two mistakes (the misspelt key, so no penalty cap): one annotation each,
    # and the misspelt key's points at its own line.
    bad = [line for line in lines if str(files["bad"]) in line]
    typo = [line for line in bad if "penalty_kap" in line]
    assert len(bad) == 2 and len(typo) == 1 and f",line={BAD_KEY_LINE}," in typo[0]
    hidden = [line for line in lines if str(files["infeasible"]) in line]
    assert len(hidden) == 1 and f",line={UNDETERRABLE_LINE}," in hidden[0]
    assert "hidden" in hidden[0]
    assert not [line for line in lines if "good_00" in line]


def test_junit_has_one_testcase_per_file(runner: CliRunner, tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs", n_good=2)
    out = tmp_path / "report.xml"
    result = runner.invoke(app, ["batch", str(tmp_path / "specs"), "-f", "junit", "-o", str(out)])
    assert result.stdout == ""
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    cases = {Path(c.get("name", "")).name: c for c in suite.iter("testcase")}
    assert len(cases) == len(files)
    assert suite.get("tests") == str(len(files))
    assert cases["undeterrable.toml"].find("failure") is not None
    assert cases["bad_key.toml"].find("error") is not None
    assert not list(cases["good_00.toml"])
    assert suite.get("failures") == "1" and suite.get("errors") == "1"


def test_json_and_table_formats(runner: CliRunner, tmp_path: Path) -> None:
    write_folder(tmp_path / "specs", n_good=2)
    result = runner.invoke(app, ["batch", str(tmp_path / "specs"), "-f", "json", "--no-timing"])
    doc = json.loads(result.stdout)
    assert doc["counts"] == {"optimal": 2, "infeasible": 1, "solver_error": 0, "bad_input": 1}
    assert doc["exit_code"] == 2 and "timing" not in doc
    optimal = [r for r in doc["results"] if r["status"] == "optimal"]
    assert all(r["result"]["schema_version"] == 1 for r in optimal)
    table = runner.invoke(app, ["batch", str(tmp_path / "specs")])
    assert "undeterrable.toml" in table.stdout and "infeasible" in table.stdout


def test_same_results_whatever_the_number_of_jobs(runner: CliRunner, tmp_path: Path) -> None:
    write_folder(tmp_path / "specs")
    outputs = [
        runner.invoke(
            app,
            ["batch", str(tmp_path / "specs"), "-f", "jsonl", "--no-timing", "--jobs", str(jobs)],
        ).stdout
        for jobs in (1, 2)
    ]
    assert outputs[0] == outputs[1]


def test_a_dead_worker_marks_only_its_file(tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs")
    ordered = sorted(str(p) for p in files.values())
    options = BatchOptions(faults=Faults(crash_on=frozenset({"good_03.toml"})))
    run = run_batch(ordered, options, jobs=2)
    by_name = {Path(o.file).name: o for o in run.outcomes}
    assert len(by_name) == len(files)
    assert by_name["good_03.toml"].status == "solver_error"
    assert "died" in (by_name["good_03.toml"].error or "")
    assert all(
        o.status == "optimal"
        for n, o in by_name.items()
        if n.startswith("good") and n != "good_03.toml"
    )
    assert by_name["bad_key.toml"].status == "bad_input"


def test_timeout_hook_fails_only_the_slow_file(tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs", n_good=2)
    options = BatchOptions(
        timeout=0.5, faults=Faults(hang_on=frozenset({"good_01.toml"}), hang_seconds=HANG)
    )
    started = time.perf_counter()
    run = run_batch(sorted(str(p) for p in files.values()), options, jobs=2)
    assert time.perf_counter() - started < HANG  # cut off, not waited out (any load)
    by_name = {Path(o.file).name: o for o in run.outcomes}
    assert by_name["good_01.toml"].status == "solver_error"
    assert "timed out" in (by_name["good_01.toml"].error or "")
    assert by_name["good_00.toml"].status == "optimal"


def test_max_failures_stops_early(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    for k in range(40):
        text = "not = [valid" if k < 5 else one_action_spec(1, 9, 1)
        (folder / f"f{k:02d}.toml").write_text(text)
    result = runner.invoke(
        app, ["batch", str(folder), "-f", "jsonl", "--jobs", "1", "--max-failures", "2"]
    )
    assert result.exit_code == 2
    assert 2 <= len(result.stdout.splitlines()) < 40
    assert "not run" in result.stderr


def test_resume_skips_files_solved_with_the_same_content(runner: CliRunner, tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs")
    ledger = tmp_path / "ledger.jsonl"
    args = ["batch", str(tmp_path / "specs"), "-f", "jsonl", "--resume", str(ledger)]
    first = runner.invoke(app, args)
    assert len(ledger.read_text().splitlines()) == len(files)
    files["good_00"].write_text(one_action_spec(5.0, 20.0, 0.5))  # changed: solved again
    second = runner.invoke(app, args)
    assert second.exit_code == first.exit_code
    resumed = {
        Path(d["file"]).name: d["timing"]["resumed"]
        for d in map(json.loads, second.stdout.splitlines())
    }
    assert resumed.pop("good_00.toml") is False
    assert all(resumed.values())
    assert jsonl(second.stdout)["good_00.toml"]["total_cost"] == pytest.approx(5.0 / 10.0)
    # a torn last line (a kill mid-write) is ignored, not fatal
    with ledger.open("a") as handle:
        handle.write('{"ledger": 1, "outc')
    entries = Ledger(ledger).read(BatchOptions().fingerprint())
    assert len(entries) == len(files) + 1  # good_00 twice: its old and its new content


def test_ctrl_c_keeps_what_was_solved_and_says_how_to_resume(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    # Larger specs (tens of ms each) so that the batch is still running when Ctrl-C comes.
    actions = "".join(f'\n[[actions]]\nname = "x{k}"\ngain = {-0.01 * k}\n' for k in range(150))
    for k in range(120):
        (folder / f"s{k:03d}.toml").write_text(two_action_spec(1.0) + actions)
    ledger = tmp_path / "ledger.jsonl"
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deter",
            "batch",
            str(folder),
            "-f",
            "jsonl",
            "--jobs",
            "1",
            "--resume",
            str(ledger),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not ledger.exists() or len(ledger.read_text().splitlines()) < 2
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)  # a hang guard; `kept` shows it stopped
    assert process.returncode == 130, stderr  # Ctrl-C: the conventional 128 + SIGINT
    assert "Traceback" not in stderr
    assert "interrupted" in stderr and "--resume" in stderr
    # the hint is the whole command: the output options and every other option given
    assert "-f jsonl" in stderr and "--jobs 1" in stderr and "same options" not in stderr
    kept = len(ledger.read_text().splitlines())
    assert 2 <= kept < 120
    assert len(stdout.splitlines()) == kept  # what was solved is also in the output


def test_a_timeout_also_interrupts_a_file_solved_outside_the_main_thread(
    tmp_path: Path,
) -> None:
    """Dask runs tasks in worker threads, where SIGALRM cannot reach: the limit still holds."""
    import threading

    from deter.solver.batch.worker import solve_file

    files = write_folder(tmp_path / "specs", n_good=2)
    options = BatchOptions(
        timeout=0.3, faults=Faults(hang_on=frozenset({"good_01.toml"}), hang_seconds=HANG)
    )
    assert solve_file(str(files["good_00"]), BatchOptions()).status == "optimal"  # warm up
    outcomes = {}

    def solve(name: str) -> None:
        outcomes[name] = solve_file(str(files[name]), options)
        time.sleep(0.5)  # a late timeout would surface here and end the thread with it
        outcomes[name + " after"] = "alive"

    for name in ("good_01", "good_00"):
        thread = threading.Thread(target=solve, args=(name,), daemon=True)
        thread.start()
        thread.join(timeout=HANG / 2)
        assert not thread.is_alive()  # the hang was cut off, not waited out (any load)
    assert outcomes["good_01"].status == "solver_error"
    assert outcomes["good_01"].error == "timed out after 0.3 s"
    assert outcomes["good_00"].status == "optimal"
    assert outcomes["good_01 after"] == outcomes["good_00 after"] == "alive"


def test_paths_that_name_no_spec_say_why(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app,
        [
            "batch",
            str(tmp_path / "empty"),
            str(tmp_path / "*.tomlx"),
            str(tmp_path / "gone.toml"),
            "-f",
            "jsonl",
        ],
    )
    # A usage error (issue 15): said before any worker starts, nothing on stdout.
    assert result.exit_code == 2
    assert result.stdout == ""
    for path in ("empty", "*.tomlx", "gone.toml"):
        assert repr(str(tmp_path / path)) in result.stderr


def test_progress_bar_only_on_a_terminal(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from deter.cli.commands import batch as cmd_batch
    from deter.cli.exit_codes import for_file
    from deter.solver.batch.outcome import FileOutcome

    plain = runner.invoke(app, ["batch", str(write_folder(tmp_path / "a", n_good=1)["good_00"])])
    assert "eta" not in plain.stderr and "solving" not in plain.stderr

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with cmd_batch._progress(2, for_file) as advance:
        advance(FileOutcome(file="a.toml", status="optimal"))
        advance(FileOutcome(file="b.toml", status="bad_input"))
    drawn = screen.getvalue()
    assert "2/2" in drawn and "1 failed" in drawn and "eta" in drawn


def test_an_interrupted_run_reports_exit_code_130_everywhere() -> None:
    """The summary and the JSON say the code the process exits with (issue 21 item 4)."""
    from deter.cli.exit_codes import for_file as batch_code
    from deter.cli.render.batch import BatchFormat, render_run, summary
    from deter.cli.render.result import to_console_text
    from deter.solver.batch.outcome import FileOutcome
    from deter.solver.batch.run import BatchRun

    run = BatchRun(
        files=["a.toml", "b.toml"],
        outcomes=[FileOutcome(file="a.toml", status="optimal")],
        interrupted=True,
    )
    assert json.loads(render_run(run, BatchFormat.json, batch_code))["exit_code"] == 130
    assert "exit code 130" in to_console_text(summary(run, batch_code), color=False, width=120)
    run.interrupted = False
    assert json.loads(render_run(run, BatchFormat.json, batch_code))["exit_code"] == 0


def test_resume_solves_again_a_file_refused_under_a_smaller_size_limit(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = write_folder(tmp_path / "specs", n_good=1)
    ledger = tmp_path / "ledger.jsonl"
    args = ["batch", str(files["good_00"]), "-f", "jsonl", "--resume", str(ledger)]
    small = runner.invoke(app, [*args, "--max-size", "10"])
    assert json.loads(small.stdout)["status"] == "bad_input"
    large = runner.invoke(app, args)
    assert json.loads(large.stdout)["status"] == "optimal"


def test_an_output_folder_that_does_not_exist_is_refused_before_solving(
    runner: CliRunner, tmp_path: Path
) -> None:
    write_folder(tmp_path / "specs", n_good=2)
    out = tmp_path / "missing" / "out.json"
    result = runner.invoke(app, ["batch", str(tmp_path / "specs"), "-o", str(out)])
    assert result.exit_code == 2
    assert "no such folder" in result.stderr
    assert result.stdout == ""
