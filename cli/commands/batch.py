"""``deter batch``: solve every spec in files, folders and globs, in parallel workers.

The work is done by ``deter.solver.batch.run``; this module parses options, shows progress on a
terminal, renders the outcomes and maps them to the exit code (the worst per-file code).
``deter check`` runs through the same function with requirements switched on.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...solver.report.escape import one_line
from ...solver.report.files import AtomicFile, UnsafeOutput, check_output
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..exit_codes import ExitCode, OutcomeCode, for_outcomes
from ..options import DebugOption, MaxSizeOption, OutputOption, Solver, SolverOption
from ..render.batch import BatchFormat, BatchWriter, Tally, summary

if TYPE_CHECKING:  # the batch engine loads only when a batch runs (start-up of other commands)
    from ...solver.analysis.requirements import RequirementOverrides
    from ...solver.batch.ledger import Spool
    from ...solver.batch.outcome import FileOutcome
    from ...solver.batch.run import BatchRun
    from ...solver.batch.worker import BatchOptions

#: Where an interrupted batch without --resume keeps what it solved.
DEFAULT_LEDGER = ".deter-batch.jsonl"


class Executor(StrEnum):
    local = "local"
    dask = "dask"


PathsArgument = Annotated[
    list[str], typer.Argument(help="Spec files, folders (searched for *.toml) and glob patterns.")
]
BatchFormatOption = Annotated[BatchFormat, typer.Option("--format", "-f", help="Output format.")]
JobsOption = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: CPUs).")
]
MaxFailuresOption = Annotated[
    int | None, typer.Option("--max-failures", min=1, help="Stop after this many failed files.")
]
ResumeOption = Annotated[
    Path | None,
    typer.Option(
        "--resume",
        help="Ledger file: skip files already solved with the same "
        "content, and record each finished file (JSON lines).",
    ),
]
#: The longest --timeout (seconds, about 11 days; batch.worker.MAX_TIMEOUT).
MAX_TIMEOUT = 1e6
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.001, max=MAX_TIMEOUT, help="Seconds allowed per file (at most 1e6)."
    ),
]
ExecutorOption = Annotated[
    Executor, typer.Option("--executor", help="local worker processes, or a Dask cluster.")
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default with --executor dask: a local cluster).",
    ),
]
#: The local Dask cluster's size for ``simulate`` and ``experiment`` (``batch`` sizes its
#: cluster with ``--jobs``).
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers", min=1, max=1024, help="Processes of the local Dask cluster (default 2)."
    ),
]
NoTimingOption = Annotated[
    bool, typer.Option("--no-timing", help="Leave timing out of json, jsonl, csv and junit output.")
]


def batch(
    paths: PathsArgument,
    format: BatchFormatOption = BatchFormat.table,
    output: OutputOption = None,
    jobs: JobsOption = None,
    max_failures: MaxFailuresOption = None,
    resume: ResumeOption = None,
    timeout: TimeoutOption = None,
    solver: SolverOption = None,
    executor: ExecutorOption = Executor.local,
    address: AddressOption = None,
    no_timing: NoTimingOption = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Solve many spec files in parallel; exit with the worst per-file code.

    Each file is solved in isolation: a bad file, a solver failure or a crashed worker
    marks that file only. Ctrl-C stops cleanly and says how to resume.
    """
    run_command(
        "batch",
        paths,
        format=format,
        output=output,
        jobs=jobs,
        max_failures=max_failures,
        resume=resume,
        timeout=timeout,
        solver=solver,
        executor=executor,
        address=address,
        no_timing=no_timing,
        max_size=max_size,
        debug=debug,
        check=None,
    )


def run_command(
    command: str,
    paths: list[str],
    *,
    format: BatchFormat,
    output: Path | None,
    jobs: int | None,
    max_failures: int | None,
    resume: Path | None,
    timeout: float | None,
    solver: Solver | None,
    executor: Executor,
    address: str | None,
    no_timing: bool,
    max_size: int,
    debug: bool,
    check: RequirementOverrides | None,
) -> None:
    """The body shared by ``batch`` and ``check``."""
    from .. import common as cli

    if address and executor is not Executor.dask:
        cli.fail(ExitCode.BAD_INPUT, "error: --address needs --executor dask")
    if timeout is not None and not (0 < timeout <= MAX_TIMEOUT):  # NaN passes typer's range
        cli.fail(
            ExitCode.BAD_INPUT,
            f"error: --timeout must be a number of seconds up to {MAX_TIMEOUT:g}, not {timeout}",
        )
    if output is not None:
        # Say so before solving anything, not after a long batch has nowhere to go.
        folder = output.parent if str(output.parent) else Path(".")
        if not folder.is_dir():
            cli.fail(ExitCode.BAD_INPUT, f"error: -o {output}: no such folder {str(folder)!r}")
        if not os.access(folder, os.W_OK):
            cli.fail(ExitCode.BAD_INPUT, f"error: -o {output}: cannot write in {str(folder)!r}")
    code_of = for_outcomes(check is not None)

    def body() -> int:
        from ...solver.batch.ledger import Ledger, Spool
        from ...solver.batch.run import discover, run_batch, stop_signals
        from ...solver.batch.worker import BatchOptions

        solvers = cli.solver_choice(solver) if solver else None
        files, unmatched = discover(paths)
        # A path that names nothing is a usage error (exit 2), said before any worker starts,
        # as validate says it: a typo should not cost a batch's time.
        if unmatched:
            cli.fail(
                ExitCode.BAD_INPUT,
                "error: no spec files at " + ", ".join(repr(u) for u in unmatched),
            )
        if not files:
            cli.fail(ExitCode.BAD_INPUT, "error: no spec files given")
        # Neither the output nor the ledger may be one of the specs (by any name or link):
        # -o or --resume equal to an input would overwrite or append to a spec.
        for flag, target in (("-o", output), ("--resume", resume)):
            if target is not None and str(target) != "-":
                try:
                    check_output(target, inputs=files)
                except UnsafeOutput as exc:
                    cli.fail(ExitCode.BAD_INPUT, f"error: {flag} {target}: {exc.strerror}")
        if resume is not None and (why := _not_a_ledger(resume)) is not None:
            cli.fail(
                ExitCode.BAD_INPUT,
                f"error: --resume {resume}: {why}; refusing to append to it (give a new file "
                "or a ledger deter wrote)",
            )
        options = BatchOptions(
            solvers=solvers,
            max_bytes=max_size,
            timeout=timeout,
            check=check,
            # a ledger keeps full results, so a resumed json run is whole
            keep_results=format is BatchFormat.json or resume is not None,
        )
        ledger = Ledger(resume) if resume is not None else None
        # Without --resume, what is solved is spooled to a temporary file, so that Ctrl-C
        # can still keep it in a ledger to resume from (the run itself keeps no outcome).
        spool = Spool() if resume is None else None
        from ...solver.batch.dask_executor import DaskUnavailable

        sink = _output(output) if output is not None and str(output) != "-" else None
        stdout = _Stdout()
        writer = BatchWriter(
            sink if sink is not None else stdout,
            format,
            code_of,
            command=command,
            color=output is None and cli.stdout_is_colour_terminal(),
            width=cli.terminal_width(),
            timing=not no_timing,
        )
        try:
            try:
                with stop_signals(), _progress(len(files), code_of) as advance:

                    def on_outcome(outcome: FileOutcome) -> None:
                        advance(outcome)
                        writer.add(outcome)
                        if spool is not None:
                            spool.add(outcome)

                    run = run_batch(
                        files,
                        options,
                        jobs=jobs,
                        executor=executor.value,
                        address=address,
                        max_failures=max_failures,
                        is_failure=lambda o: code_of(o) != ExitCode.OK,
                        ledger=ledger,
                        on_outcome=on_outcome,
                        keep_outcomes=False,
                    )
            except DaskUnavailable as exc:
                cli.fail(ExitCode.BAD_INPUT, f"error: {exc}")
            stdout.release()
            writer.finish(run)
            if sink is not None:
                sink.commit()
                cli.info(f"wrote {output}")
        except BaseException:
            writer.close()
            if sink is not None:
                sink.abort()
            if spool is not None:
                spool.close()
            raise
        tally = writer.tally
        _stderr_summary(run, tally, command, full=format is BatchFormat.table)
        if ledger is not None and ledger.skipped:
            cli.err(
                f"note: {ledger.skipped} unreadable line(s) in the ledger {resume} were skipped"
                + (f" (the first, {ledger.first_skipped})" if ledger.first_skipped else "")
            )
        code: int = tally.exit_code(run)
        if run.stopped_early:
            cli.err(
                f"stopped after {max_failures} failed file(s); {len(run.not_run)} file(s) not run"
            )
        if run.interrupted:
            again = [
                *paths,
                *(["-f", format.value] if format is not BatchFormat.table else []),
                *(["-o", str(output)] if output is not None else []),
                *(["--jobs", str(jobs)] if jobs is not None else []),
                *(["--max-failures", str(max_failures)] if max_failures is not None else []),
                *(["--timeout", f"{timeout:g}"] if timeout is not None else []),
                *(["--solver", solver.value] if solver is not None else []),
                *(["--executor", executor.value] if executor is not Executor.local else []),
                *(["--address", address] if address else []),
                *(["--no-timing"] if no_timing else []),
                *(["--max-size", str(max_size)] if max_size != DEFAULT_MAX_BYTES else []),
                *(_check_arguments(check) if check is not None else []),
            ]
            if run.lost:  # an environment failure: no answer for the rest (exit 3), said so
                cli.err(f"error: {one_line(run.lost)}; the batch stopped")
            cli.err(_resume_hint(command, again, run, tally.finished, resume, spool, options))
        if spool is not None:
            spool.close()
        return code

    raise typer.Exit(cli.guarded(debug, body))


def _check_arguments(check: RequirementOverrides) -> list[str]:
    """``deter check``'s own options, as given (for the resume hint)."""
    args = []
    if check.max_cost is not None:
        args += ["--max-cost", f"{check.max_cost:g}"]
    if check.min_margin is not None:
        args += ["--min-margin", f"{check.min_margin:g}"]
    for name, rate in check.max_rate.items():
        args += ["--max-rate", f"{name}={rate:g}"]
    return args


#: How every ledger line begins (``ledger.entry_line``: the version key first).
LEDGER_START = b'{"ledger"'


def _not_a_ledger(path: Path) -> str | None:
    """Why ``path`` is not a ledger to append to, or None: a missing or empty file, one
    with a line that begins a ledger entry (lines of junk around them are skipped when it
    is read), or one cut short by a kill inside its first entry, is a ledger. Anything else
    (a spec, notes, a binary file named by a typo) would get JSON lines appended to it; an
    unreadable file is left to the ledger's own error."""
    marker = b"\n" + LEDGER_START
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(LEDGER_START) + 64).lstrip()
            if not head or head.startswith(LEDGER_START) or LEDGER_START.startswith(head):
                return None
            handle.seek(0)
            tail = b"\n"  # the file's start counts as a line's
            while chunk := handle.read(1 << 20):
                if marker in tail + chunk:
                    return None
                tail = chunk[-len(marker) :]
    except OSError:
        return None
    return "no line of it begins a ledger entry, so this is not a ledger deter wrote"


def _resume_hint(
    command: str,
    arguments: list[str],
    run: BatchRun,
    finished: int,
    resume: Path | None,
    spool: Spool | None,
    options: BatchOptions,
) -> str:
    """Keep what was solved in a ledger (the default one without --resume: from the spool)
    and say how to go on. ``arguments`` are the paths and every option given, to repeat as
    they were; ``finished``: the files that finished, resumed ones included."""
    from ...solver.batch.ledger import Ledger

    if resume is None:
        resume = Path(DEFAULT_LEDGER)
        kept = Ledger(resume, derive_rows=False)  # quick: Ctrl-C was pressed
        batch: list[FileOutcome] = []
        for outcome in spool or ():
            batch.append(outcome)
            if len(batch) == 1024:  # a bounded batch of lines at a time
                kept.append(batch, options.fingerprint())
                batch = []
        kept.append(batch, options.fingerprint())
        kept.close()
    again = shlex.join(["deter", command, *arguments, "--resume", str(resume)])
    return (
        f"interrupted: {finished} of {len(run.files)} files finished and kept in "
        f"{resume}; to finish the rest, run: {again}"
    )


def _output(output: Path) -> AtomicFile:
    """``-o FILE`` written while the batch runs: an :class:`AtomicFile` whose hidden file is
    ``.NAME.PID.partial``, so a partial file left by a killed run (its process gone) is
    removed when the next run writes the same target."""
    target = check_output(output)
    _remove_stale_partials(target)
    return AtomicFile(output, partial=f".{target.name}.{os.getpid()}.partial")


class _Stdout(io.TextIOBase):
    """Standard output, for a batch's streamed output. Where the progress bar is drawn on
    the same terminal (both stdout and stderr are one), the text waits in a temporary file
    until :meth:`release` (after the bar is gone): the bar's redrawing would garble it."""

    def __init__(self) -> None:
        self.held: Any = None
        if sys.stdout.isatty() and sys.stderr.isatty():
            self.held = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def write(self, text: str) -> int:
        return (self.held or sys.stdout).write(text)

    def flush(self) -> None:
        if self.held is None:
            sys.stdout.flush()

    def release(self) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            held.seek(0)
            shutil.copyfileobj(held, sys.stdout)
            held.close()


def _remove_stale_partials(target: Path) -> None:
    """Remove ``.NAME.PID.partial`` files beside ``target`` whose process is gone."""
    from ...solver.batch.worker import pid_exists

    for partial in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        pid = partial.name[len(target.name) + 2 : -len(".partial")]
        if not pid.isdigit() or pid_exists(int(pid)):
            continue
        with contextlib.suppress(OSError):
            partial.unlink()


@contextlib.contextmanager
def _progress(total: int, code_of: OutcomeCode) -> Iterator[Callable[[FileOutcome], None]]:
    """A rich progress bar on stderr, only when stderr is a terminal; a file counts as
    failed when its exit code is not 0."""
    if not sys.stderr.isatty():
        yield lambda outcome: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .. import common as cli

    console = Console(stderr=True, no_color=not cli.colour_for(sys.stderr))
    failed = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        # stdout is the batch's output, streamed while the bar shows: never the bar's to
        # print (on stderr) above itself
        redirect_stdout=False,
    ) as progress:
        task = progress.add_task("solving", total=total, failed=0)

        def advance(outcome: FileOutcome) -> None:
            nonlocal failed
            failed += code_of(outcome) != ExitCode.OK
            progress.update(task, advance=1, failed=failed)

        yield advance


def _stderr_summary(run: BatchRun, tally: Tally, command: str, full: bool) -> None:
    """The summary on stderr: in full after a table (or with -v), one line after a machine
    format (json, junit, github, ...: their readers want no 20 lines), nothing with -q."""
    from .. import common as cli
    from ..options import settings
    from ..render.batch import summary_line
    from ..render.result import to_console_text

    if settings.quiet:
        return
    if not (full or settings.verbose):
        cli.err(summary_line(run, tally.code, tally))
        return
    color = cli.colour_for(sys.stderr)
    width = cli.terminal_width(sys.stderr)
    text = to_console_text(summary(run, tally.code, command, tally), color=color, width=width)
    sys.stderr.write(text)
    sys.stderr.flush()
