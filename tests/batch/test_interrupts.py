"""Work is never lost: a batch killed mid-run (SIGINT, SIGKILL) keeps an intact ledger and
output file, and ``--resume`` finishes with the same results as an uninterrupted run.

The batch runs as a real process (signals reach it as they would from a terminal or an
OOM killer); the uninterrupted reference and the resumed run go through CliRunner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.batch.run import stacks_of
from typer.testing import CliRunner

from tests.support.batch_helpers import slow_spec_folder, two_action_spec

#: Many stacks (``run.stacks_of``), more files than are solved in-process: the
#: kill lands between stacks, with some stacks in the ledger and others not yet.
N_FILES = 384
OLD_OUTPUT = "previous output, must survive a kill intact\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return slow_spec_folder(tmp_path_factory.mktemp("interrupts") / "specs", N_FILES, 150)


def batch_args(folder: Path, output: Path, ledger: Path | None) -> list[str]:
    args = ["batch", str(folder), "-f", "jsonl", "--no-timing", "--jobs", "2", "-o", str(output)]
    return args + (["--resume", str(ledger)] if ledger is not None else [])


@pytest.fixture(scope="module")
def reference(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("reference") / "out.jsonl"
    result = CliRunner().invoke(app, batch_args(folder, output, None))
    assert result.exit_code == 0
    return output.read_text()


def ledger_lines(ledger: Path, torn: int = 1) -> list[dict]:
    """The ledger's entries, read as ``Ledger`` reads them (by bytes, line by line).

    A SIGKILL may cut the line being written (so may a read while the batch writes). The
    ledger skips a cut line and, before it appends again, ends it with a newline, so after a
    resume the cut line stands complete in the middle of the file. At most ``torn`` lines may
    be unreadable, and each must be a cut entry: a prefix of one of its lines.
    """
    if not ledger.exists():
        return []
    docs, cut = [], []
    for raw in ledger.read_bytes().split(b"\n"):
        if not raw:
            continue
        try:
            docs.append(json.loads(raw.decode("utf-8")))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError (a character cut in two)
            cut.append(raw)
    assert len(cut) <= torn, f"{len(cut)} unreadable ledger lines, at most {torn} allowed"
    assert all(raw.startswith(b'{"ledger":') or b'{"ledger":'.startswith(raw) for raw in cut)
    return docs


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_batch_resumes_to_the_same_results(
    folder: Path, reference: str, tmp_path: Path, sig: signal.Signals
) -> None:
    output, ledger = tmp_path / "out.jsonl", tmp_path / "ledger.jsonl"
    output.write_text(OLD_OUTPUT)
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "deter", *batch_args(folder, output, ledger)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(ledger_lines(ledger)) < 2:
        if process.poll() is not None:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be interrupted"
    # The whole process group, as a terminal's Ctrl-C or a kill of the job would.
    os.killpg(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr

    # SIGINT waits for the chunk being recorded: nothing may be cut.
    kept = ledger_lines(ledger, torn=1 if sig == signal.SIGKILL else 0)
    assert 2 <= len(kept) < N_FILES
    # Whole stacks (SIGKILL may tear one). Not necessarily the first ones: after the stop,
    # every stack that finished is kept, also one that finished before an earlier one
    # (``order.InOrder.flush``; the 50-run loop's run 29 kept 1 + 2 + 10 files of stacks
    # of 1, 2, 5 and 10, which a check of prefix sums called a cut).
    stacks = [
        {str(Path(f).resolve()) for f in stack}
        for stack in stacks_of(sorted(str(p) for p in folder.iterdir()))
    ]
    kept_files = {str(Path(doc["outcome"]["file"]).resolve()) for doc in kept}
    inside = [len(kept_files & stack) for stack in stacks]
    assert len(kept_files) == len(kept) == sum(inside)  # each kept file found in its stack
    cut = [n for n, stack in zip(inside, stacks, strict=True) if 0 < n < len(stack)]
    assert not cut or (sig == signal.SIGKILL and len(cut) == 1), cut
    assert all(doc["outcome"]["status"] == "optimal" for doc in kept)
    # The output is the old file or a whole new one (Ctrl-C writes what was solved so
    # far), never a part of either: every line a complete result, the last one ended.
    text = output.read_text()
    if text != OLD_OUTPUT:
        assert sig == signal.SIGINT and text.endswith("\n")
        written = [json.loads(line) for line in text.splitlines()]
        assert 1 <= len(written) <= len(kept)
        assert all(doc["status"] == "optimal" for doc in written)
    if sig == signal.SIGINT:
        assert "--resume" in stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] or sig == signal.SIGKILL

    resumed = CliRunner().invoke(app, batch_args(folder, output, ledger))
    assert resumed.exit_code == 0, resumed.stderr
    assert output.read_text() == reference  # byte for byte, timing left out
    after = ledger_lines(ledger, torn=1 if sig == signal.SIGKILL else 0)
    lost = N_FILES - len({doc["outcome"]["file"] for doc in after})
    assert lost == 0


def test_a_kill_while_the_output_streams_leaves_the_old_file_and_resumes(
    folder: Path, reference: str, tmp_path: Path
) -> None:
    """Results stream to -o as stacks finish, into a partial file beside it: SIGKILL while
    it grows leaves the old output untouched, and the resumed run writes the whole output,
    byte for byte the uninterrupted one, and removes the partial file the kill left."""
    output, ledger = tmp_path / "out.jsonl", tmp_path / "ledger.jsonl"
    output.write_text(OLD_OUTPUT)
    process = subprocess.Popen(
        [sys.executable, "-m", "deter", *batch_args(folder, output, ledger)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    partial = tmp_path / f".out.jsonl.{process.pid}.partial"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and partial.stat().st_size > 0:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before its output streamed"
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)

    assert output.read_text() == OLD_OUTPUT
    # What streamed is the start of the uninterrupted output, in order (its last line may be
    # cut by the kill).
    streamed = partial.read_bytes()
    assert streamed and reference.encode("utf-8").startswith(streamed)
    assert 0 < len(ledger_lines(ledger)) < N_FILES

    resumed = CliRunner().invoke(app, batch_args(folder, output, ledger))
    assert resumed.exit_code == 0, resumed.stderr
    assert output.read_text() == reference
    assert not partial.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".partial", ".tmp"))]


def test_a_worker_stuck_where_no_alarm_reaches_fails_only_its_file(tmp_path: Path) -> None:
    """A hang in native code never runs SIGALRM's handler (simulated by blocking SIGALRM);
    the hard deadline (--timeout + grace) ends the worker, and only that file fails."""
    from deter.solver.batch.faults import Faults
    from deter.solver.batch.run import run_batch
    from deter.solver.batch.worker import BatchOptions

    from tests.support.batch_helpers import one_action_spec

    files = []
    for name in ("a", "stuck", "c"):
        path = tmp_path / f"{name}.toml"
        path.write_text(one_action_spec(1.0, 10.0, 0.5))
        files.append(str(path))
    hang = 300  # long enough that no load makes a run that cuts it off take as long
    options = BatchOptions(
        timeout=0.5, faults=Faults(stuck_on=frozenset({"stuck.toml"}), hang_seconds=hang)
    )
    started = time.perf_counter()
    run = run_batch(files, options, jobs=2)
    assert time.perf_counter() - started < hang  # cut off, not waited out
    status = {Path(o.file).name: o.status for o in run.outcomes}
    assert status == {"a.toml": "optimal", "stuck.toml": "solver_error", "c.toml": "optimal"}


def test_an_append_after_a_torn_line_keeps_every_new_entry(tmp_path: Path) -> None:
    """A kill mid-append leaves a line without its newline; the next run's first entry must
    not be glued onto it (it would be unreadable, and that file solved again)."""
    from deter.solver.batch.ledger import Ledger
    from deter.solver.batch.outcome import FileOutcome

    def outcome(name: str) -> FileOutcome:
        return FileOutcome(file=name, status="optimal", total_cost=1.0, sha256="0" * 64)

    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append([outcome("a.toml"), outcome("b.toml")], "opts")
    ledger.close()
    path.write_bytes(path.read_bytes()[:-30])  # b.toml's line cut short by a kill
    again = Ledger(path)
    again.append([outcome("c.toml")], "opts")
    again.close()
    assert sorted(file for file, _ in Ledger(path).read("opts")) == ["a.toml", "c.toml"]


def test_the_ledger_index_finds_the_last_entry_of_a_file_and_hash(tmp_path: Path) -> None:
    from deter.solver.batch.ledger import Ledger
    from deter.solver.batch.outcome import FileOutcome

    def outcome(name: str, cost: float, sha: str = "0" * 64) -> FileOutcome:
        return FileOutcome(file=name, status="optimal", total_cost=cost, sha256=sha)

    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append([outcome("a.toml", 1.0), outcome("b.toml", 2.0)], "opts")
    ledger.append([outcome("./a.toml", 3.0), outcome("c.toml", 4.0, "1" * 64)], "opts")
    ledger.append([outcome("d.toml", 5.0)], "other options")
    ledger.close()
    with path.open("ab") as handle:
        handle.write(b'{"ledger": 1, "options": "opts", "outc')  # torn by a kill
    reader = Ledger(path)
    index = reader.index("opts")
    assert len(index) == 3 and reader.skipped == 1
    offset = index.find("a.toml", "0" * 64)
    assert offset is not None and reader.load(offset, "a.toml").total_cost == 3.0  # the last
    assert index.find("c.toml", "0" * 64) is None  # the file changed since: solve it again
    assert index.find("d.toml", "0" * 64) is None  # written with other options
    c = index.find("c.toml", "1" * 64)
    assert c is not None and reader.load(c, "c.toml").total_cost == 4.0
    with pytest.raises(RuntimeError, match="changed"):
        reader.load(c, "b.toml")
    reader.close()
    assert {k: o.total_cost for k, o in Ledger(path).read("opts").items()} == {
        ("a.toml", "0" * 64): 3.0,
        ("b.toml", "0" * 64): 2.0,
        ("c.toml", "1" * 64): 4.0,
    }


def test_a_resumed_batch_reads_each_result_when_its_turn_comes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--resume keeps an index, not the ledger's results: a resumed outcome is read from the
    ledger when its stack is handed on, and none is kept after."""
    import weakref

    from deter.solver.batch.ledger import Ledger
    from deter.solver.batch.outcome import FileOutcome, file_sha256
    from deter.solver.batch.run import STACK_SIZE, run_batch
    from deter.solver.batch.worker import BatchOptions

    folder = tmp_path / "specs"
    folder.mkdir()
    files = []
    for k in range(3 * STACK_SIZE + 5):
        spec = folder / f"s{k:04d}.toml"
        spec.write_text(f"# {k}\n")  # never solved: every file is in the ledger
        files.append(str(spec))
    options = BatchOptions(keep_results=True)
    path = tmp_path / "ledger.jsonl"
    writer = Ledger(path)
    writer.append(
        [
            FileOutcome(file=f, status="optimal", total_cost=float(k), sha256=file_sha256(f))
            for k, f in enumerate(files)
        ],
        options.fingerprint(),
    )
    writer.close()

    def no_read(self: Ledger, fingerprint: str) -> None:
        raise AssertionError("a resumed batch must not load the whole ledger")

    loads = 0
    original_load = Ledger.load

    def counted_load(self: Ledger, offset: int, file: str) -> FileOutcome:
        nonlocal loads
        loads += 1
        return original_load(self, offset, file)

    monkeypatch.setattr(Ledger, "read", no_read)
    monkeypatch.setattr(Ledger, "load", counted_load)
    live = most = 0
    seen: list[tuple[str, float]] = []

    def gone() -> None:
        nonlocal live
        live -= 1

    def on_outcome(outcome: FileOutcome) -> None:
        nonlocal live, most
        assert loads <= len(seen) + STACK_SIZE  # read with its stack, not all up front
        seen.append((outcome.file, outcome.total_cost))
        assert outcome.resumed
        live += 1
        most = max(most, live)
        weakref.finalize(outcome, gone)

    run = run_batch(
        files, options, jobs=1, ledger=Ledger(path), on_outcome=on_outcome, keep_outcomes=False
    )
    assert run.resumed == len(files) and run.finished == len(files) and not run.not_run
    assert seen == [(f, float(k)) for k, f in enumerate(files)] and loads == len(files)
    assert most <= STACK_SIZE


def test_a_resumed_result_that_does_not_load_is_solved_in_its_place(tmp_path: Path) -> None:
    """The index checks every field but the result (most of a line), which is read when its
    turn comes: if it does not load then, the file is solved there, as if never resumed."""
    folder = tmp_path / "specs"
    folder.mkdir()
    for k in range(3):
        (folder / f"s{k}.toml").write_text(two_action_spec(1.0 + k))
    ledger = tmp_path / "ledger.jsonl"
    args = ["batch", str(folder), "-f", "jsonl", "--no-timing", "--resume", str(ledger)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.stderr
    lines = ledger.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["outcome"]["result"] = {"status": "optimal", "not": "a result"}
    ledger.write_text("\n".join([lines[0], json.dumps(broken), *lines[2:]]) + "\n")
    again = CliRunner().invoke(app, ["batch", str(folder), "-f", "jsonl", "--resume", str(ledger)])
    assert again.exit_code == 0, again.stderr
    docs = [json.loads(line) for line in again.stdout.splitlines()]
    assert [d["timing"]["resumed"] for d in docs] == [True, False, True]
    assert [d["total_cost"] for d in docs] == [
        json.loads(x)["total_cost"] for x in first.stdout.splitlines()
    ]
    assert "1 unreadable line(s)" in again.stderr


def test_ctrl_c_while_a_chunk_is_recorded_waits_for_the_chunk(tmp_path: Path) -> None:
    """The root of a flaky Ctrl-C: an interrupt during the ledger's fsync left the chunk in
    the ledger but not in the run. Recording is now all or nothing: the interrupt waits."""
    from deter.solver.batch import run as batch_run
    from deter.solver.batch.ledger import Ledger
    from deter.solver.batch.outcome import FileOutcome

    files = [f"{name}.toml" for name in "abc"]
    recorded: list[str] = []

    def fake_inline(stacks, options, order) -> bool:
        order.record([(0, FileOutcome(file=files[0], status="optimal"))])
        order.record([(k, FileOutcome(file=f, status="optimal")) for k, f in enumerate(files)][1:])
        raise AssertionError("the interrupt should have ended the run after the chunk")

    def on_outcome(outcome: FileOutcome) -> None:
        recorded.append(outcome.file)
        if outcome.file == files[1]:  # Ctrl-C halfway through recording the second chunk
            os.kill(os.getpid(), signal.SIGINT)

    original = batch_run._run_inline
    batch_run._run_inline = fake_inline
    try:
        run = batch_run.run_batch(
            files,
            batch_run.BatchOptions(),
            jobs=1,
            ledger=Ledger(tmp_path / "ledger.jsonl"),
            on_outcome=on_outcome,
        )
    finally:
        batch_run._run_inline = original
    assert run.interrupted
    assert [o.file for o in run.outcomes] == recorded == files
    assert len((tmp_path / "ledger.jsonl").read_text().splitlines()) == 3


def test_outside_the_main_thread_recording_runs_as_it_is() -> None:
    import threading

    from deter.solver.batch.run import _interrupts_deferred

    handler = signal.getsignal(signal.SIGINT)
    seen: list[bool] = []

    def body() -> None:
        with _interrupts_deferred():
            seen.append(True)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [True] and signal.getsignal(signal.SIGINT) is handler
