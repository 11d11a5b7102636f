"""Issue #13's streaming: outcomes go to the output, the ledger and the progress bar in input
order as stacks finish, through a bounded reorder buffer, and the batch keeps none of them;
an exception inside deter on one file of an in-process batch marks that file only (exit 5);
the summary says what actually solved the batch."""

from __future__ import annotations

import io
import json
import sys
import weakref
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.cli.exit_codes import for_file
from deter.solver.batch import run as batch_run
from deter.solver.batch.faults import Faults
from deter.solver.batch.order import AHEAD_PER_WORKER, InOrder
from deter.solver.batch.outcome import FileOutcome
from deter.solver.batch.run import STACK_SIZE, run_batch
from deter.solver.batch.worker import BatchOptions
from typer.testing import CliRunner

from tests.support.batch_helpers import one_action_spec, write_folder


def outcome(file: str, status: str = "optimal") -> FileOutcome:
    return FileOutcome(file=file, status=status, total_cost=1.0, rates={"m": 0.5})


# --- the reorder buffer ----------------------------------------------------------------------


def test_stacks_finishing_out_of_order_are_handed_on_in_input_order() -> None:
    stacks = [["a", "b"], ["c"], ["d", "e"], ["f"]]
    ledger = {1: "b", 5: "f"}  # positions resumed; stack 3 needs nothing solved
    read: list[int] = []  # the positions read from the "ledger", in the order read
    handed: list[tuple[int, str]] = []

    def resumed(position: int) -> FileOutcome | None:
        if position not in ledger:
            return None
        read.append(position)
        return outcome(ledger[position])

    def record(items: list[tuple[int, FileOutcome]]) -> bool:
        handed.extend((position, o.file) for position, o in items)
        return False

    order = InOrder(stacks, resumed, {0, 1, 2}, record)
    assert not order.release() and handed == [] and read == []  # stack 0 is not solved yet
    order.put(2, [outcome("d"), outcome("e")])
    order.put(1, [outcome("c")])
    assert handed == [] and order.may_start(1, ahead=2) and not order.may_start(2, ahead=2)
    assert read == []  # a resumed outcome is read only when its stack is handed on
    order.put(0, [outcome("a")])  # b, resumed, joins it at its place
    assert handed == [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e"), (5, "f")]
    assert order.held == {} and read == [1, 5]


def test_a_failure_limit_stops_the_buffer_and_an_interrupt_hands_on_what_finished() -> None:
    stacks = [["a"], ["b"], ["c"], ["d"]]
    handed: list[str] = []

    def record(items: list[tuple[int, FileOutcome]]) -> bool:
        handed.extend(o.file for _, o in items)
        return any(o.status != "optimal" for _, o in items)

    stopping = InOrder(stacks, lambda position: None, {0, 1, 2, 3}, record)
    stopping.put(2, [outcome("c")])
    assert stopping.put(0, [outcome("a", "bad_input")])  # the limit: stop at once
    assert stopping.put(1, [outcome("b")]) and handed == ["a"]  # nothing more

    handed.clear()
    interrupted = InOrder(
        stacks, lambda position: outcome("d") if position == 3 else None, {0, 1, 2}, record
    )
    interrupted.put(1, [outcome("b")])  # stack 0 never finished
    interrupted.flush()
    assert handed == ["b", "d"]


def test_a_streamed_batch_keeps_no_outcome(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory stays flat: however many files, the outcomes alive at any moment are the
    reorder buffer's (at most AHEAD_PER_WORKER stacks per worker, plus the one handed on).
    The executor is a stand-in that finishes stacks in reverse order within the window
    (the worst order for the buffer) and makes outcomes without solving."""
    folder = tmp_path / "specs"
    folder.mkdir()
    n_stacks = 20
    for k in range(n_stacks * STACK_SIZE):
        (folder / f"s{k:05d}.toml").write_text("")
    live = most = 0

    def gone() -> None:
        nonlocal live
        live -= 1

    def made(file: str) -> FileOutcome:
        nonlocal live
        made_outcome = outcome(file)
        live += 1
        weakref.finalize(made_outcome, gone)
        return made_outcome

    def reversed_windows(stacks, options, order, jobs) -> bool:
        nonlocal most
        ahead = AHEAD_PER_WORKER * jobs
        queue = list(stacks)
        while queue:
            window = [s for s in queue if order.may_start(s[0], ahead)]
            assert window, "the buffer must always let the next stack start"
            for index, chunk in reversed(window):
                queue.remove((index, chunk))
                stop = order.put(index, [made(f) for f in chunk])
                most = max(most, live)
                assert not stop
        return False

    monkeypatch.setattr(batch_run, "_run_local", reversed_windows)
    monkeypatch.setattr(batch_run, "INLINE_LIMIT", 0)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["batch", str(folder), "-f", "jsonl", "--no-timing", "--jobs", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    files = [json.loads(line)["file"] for line in out.read_text().splitlines()]
    assert files == sorted(str(p) for p in folder.iterdir())
    assert STACK_SIZE <= most <= (AHEAD_PER_WORKER + 1) * STACK_SIZE < len(files) // 2


def test_run_batch_without_keeping_outcomes_still_knows_what_did_not_run(tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs", n_good=3)
    names = sorted(str(p) for p in files.values())
    seen: list[str] = []
    run = run_batch(
        names,
        BatchOptions(),
        max_failures=1,
        on_outcome=lambda o: seen.append(o.file),
        keep_outcomes=False,
    )
    assert run.outcomes == [] and run.finished == len(seen) >= 1
    assert run.not_run == names[len(seen) :] and seen == names[: len(seen)]


# --- an exception inside deter, in the batch's own process ------------------------------------


def three_files(tmp_path: Path) -> list[str]:
    files = []
    for name in ("a", "boom", "c"):
        path = tmp_path / f"{name}.toml"
        path.write_text(one_action_spec(1.0, 10.0, 0.5))
        files.append(str(path))
    return files


@pytest.mark.parametrize("where", ["in-process", "worker"])
def test_an_exception_inside_deter_marks_only_its_file(tmp_path: Path, where: str) -> None:
    """Raised after the solve, where the file's answer is made (Faults.raise_on): the file
    gets an internal error (exit code 5), its stack's other files keep their answers."""
    faults = Faults(raise_on=frozenset({"boom.toml"}))
    # a timeout needs a worker process (its hard deadline ends a worker, never the caller)
    options = BatchOptions(faults=faults, timeout=None if where == "in-process" else 60)
    run = run_batch(three_files(tmp_path), options, jobs=2)
    assert run.executor == ("in-process" if where == "in-process" else "local")
    by_name = {Path(o.file).name: o for o in run.outcomes}
    assert [by_name[n].status for n in ("a.toml", "c.toml")] == ["optimal", "optimal"]
    boom = by_name["boom.toml"]
    assert boom.internal and boom.status == "solver_error" and for_file(boom) == 5
    assert boom.error == "internal error: InjectedBug: injected for boom.toml"


def test_a_stack_that_raises_in_process_is_solved_again_file_by_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that escapes the worker's own guards (here: solve_chunk itself raises whenever
    boom.toml is in the stack) used to end an in-process batch with nothing written."""
    original = batch_run.solve_chunk

    def buggy(files: list[str], options: BatchOptions) -> list[FileOutcome]:
        if any(Path(f).name == "boom.toml" for f in files):
            raise ZeroDivisionError("a bug")
        return original(files, options)

    monkeypatch.setattr(batch_run, "solve_chunk", buggy)
    files = three_files(tmp_path)
    result = runner.invoke(app, ["batch", *files, "-f", "jsonl", "--no-timing"])
    assert result.exit_code == 5
    docs = {Path(d["file"]).name: d for d in map(json.loads, result.stdout.splitlines())}
    assert [docs[n]["exit_code"] for n in ("a.toml", "boom.toml", "c.toml")] == [0, 5, 0]
    assert docs["boom.toml"]["error"] == "internal error: ZeroDivisionError: a bug"
    assert "(in-process)" in result.stderr


def test_an_internal_error_is_solved_again_on_resume(tmp_path: Path) -> None:
    """Not a final answer: a fixed deter may solve the file, so the ledger does not stand
    for it (and reads the line back as written)."""
    from deter.solver.batch.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.jsonl")
    files = three_files(tmp_path)
    options = BatchOptions(faults=Faults(raise_on=frozenset({"boom.toml"})))
    run_batch(files, options, ledger=ledger)
    lines = [json.loads(line) for line in ledger.path.read_text().splitlines()]
    assert [line["outcome"].get("internal", False) for line in lines] == [False, True, False]
    again = run_batch(files, BatchOptions(), ledger=ledger)
    assert [o.resumed for o in again.outcomes] == [True, False, True]
    assert again.outcomes[1].status == "optimal" and not again.outcomes[1].internal


# --- the summary -------------------------------------------------------------------------------


def test_the_summary_says_what_solved_the_batch(runner: CliRunner, tmp_path: Path) -> None:
    files = three_files(tmp_path)
    small = runner.invoke(app, ["batch", *files, "-f", "jsonl", "--jobs", "2"])
    assert "(in-process)" in small.stderr and "worker" not in small.stderr
    # a timeout needs workers; one stack of three files keeps one of the two busy
    pooled = runner.invoke(app, ["batch", *files, "-f", "jsonl", "--jobs", "2", "--timeout", "60"])
    assert "(1 local worker)" in pooled.stderr, pooled.stderr
    table = runner.invoke(app, ["batch", *files])
    assert "in-process" in table.stderr


# --- stdout while the progress bar shows ------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_streamed_stdout_stays_on_stdout_under_the_progress_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bar (stderr is a terminal) must not take over stdout: `deter batch ... > out`
    from a terminal writes its lines to out, as they come, never to the terminal."""
    from deter.cli.commands import batch as cmd_batch

    screen, piped = Terminal(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(sys, "stdout", piped)
    stdout = cmd_batch._Stdout()
    with cmd_batch._progress(2, for_file) as advance:
        stdout.write('{"file": "a.toml"}\n')
        advance(outcome("a.toml"))
        assert piped.getvalue() == '{"file": "a.toml"}\n'  # at once, not at the end
    assert "a.toml" not in screen.getvalue()


def test_on_one_terminal_the_output_waits_for_the_bar_to_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deter.cli.commands import batch as cmd_batch

    screen, shown = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(sys, "stdout", shown)
    stdout = cmd_batch._Stdout()
    with cmd_batch._progress(1, for_file) as advance:
        stdout.write("a line\n")
        advance(outcome("a.toml"))
    assert shown.getvalue() == ""
    stdout.release()
    stdout.write("the rest\n")
    assert shown.getvalue() == "a line\nthe rest\n" and "a line" not in screen.getvalue()
