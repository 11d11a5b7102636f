"""The ``deter`` command line: arguments in, solver called, results rendered.

Solving imports cvxpy lazily, so ``--help``, ``--version``, ``validate`` and ``schema``
start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from ..solver.results.errors import SpecError
from ..solver.spec.document import Spec, json_schema
from ..solver.spec.loading import DEFAULT_MAX_BYTES, decode_spec_bytes, load_spec, parse_spec_text
from .exit_codes import ExitCode, for_error, for_status
from .files import write_atomic
from .options import DebugOption, MaxSizeOption, OutputOption, SpecArgument
from .render.result import Format, error_json, render_result, spec_error_lines

app = typer.Typer(
    name="deter",
    help="Least-cost oversight that makes misaligned actions not pay "
    "(Becker's rational offender model, solved as a convex program).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[requirements]" is a TOML table, not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)

T = TypeVar("T")

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"deter {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """deter: mechanism design for deterrence."""


# --- shared plumbing --------------------------------------------------------------------


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def err(message: str) -> None:
    """A human message on stderr (stdout carries only the requested output)."""
    typer.echo(message, err=True)


def fail(code: ExitCode, message: str | None = None) -> NoReturn:
    if message:
        err(message)
    raise typer.Exit(int(code))


def stdout_is_colour_terminal() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def terminal_width() -> int:
    try:
        return max(100, os.get_terminal_size(sys.stdout.fileno()).columns)
    except OSError:
        return int(os.environ.get("COLUMNS", "120") or 120)


def emit(text: str, output: Path | None) -> None:
    """Write the requested output to stdout or, atomically, to a file."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)
        err(f"wrote {output}")


def guarded(debug: bool, body: Callable[[], T]) -> T:
    """Run a command body: user errors become one-line messages and exit codes."""
    try:
        return body()
    except typer.Exit:
        raise
    except SpecError as exc:
        for line in spec_error_lines(exc):
            err(line)
        fail(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        fail(ExitCode.SOLVER_FAILED, "interrupted")
    except OSError as exc:
        fail(ExitCode.BAD_INPUT, f"error: {exc.filename or ''}: {exc.strerror or exc}")
    except Exception as exc:  # deter's own bug: say so in one line, trace on request
        if debug:
            traceback.print_exc()
        fail(for_error(exc), f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")


def read_spec(source: str, max_size: int = DEFAULT_MAX_BYTES) -> Spec:
    if source == "-":
        data = sys.stdin.buffer.read(max_size + 1)
        if len(data) > max_size:
            raise SpecError.single("<stdin>", f"the spec is over the limit of {max_size:,} bytes")
        return parse_spec_text(decode_spec_bytes(data, "<stdin>"), file="<stdin>", name="stdin")
    return load_spec(Path(source), max_bytes=max_size)


# --- commands ---------------------------------------------------------------------------


@app.command()
def solve(
    spec: SpecArgument,
    format: FormatOption = Format.table,
    output: OutputOption = None,
    solver: Annotated[
        str | None,
        typer.Option(
            "--solver",
            help="Use only this solver (highs or clarabel; programs "
            "with cones always use clarabel).",
        ),
    ] = None,
    no_timing: Annotated[
        bool, typer.Option("--no-timing", help="Leave timing out of JSON output.")
    ] = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Find the least-cost oversight policy that deters every misaligned action.

    Exit codes: 0 solved and every action deterred; 1 valid but cannot be met;
    2 bad input; 3 no verified answer.
    """

    def body() -> int:
        solvers = _solver_choice(solver)
        try:
            parsed = read_spec(spec, max_size)
        except SpecError as exc:
            if format is Format.json:
                issues = [{"key": i.key, "line": i.line, "message": i.message} for i in exc.issues]
                emit(error_json(spec, "bad_input", str(exc.issues[0]), issues), output)
            raise
        from ..solver.engine.solve import solve as solve_spec

        result = solve_spec(parsed, solvers=solvers)
        text = render_result(
            result,
            format,
            color=output is None and stdout_is_colour_terminal(),
            width=terminal_width(),
            timing=not no_timing,
        )
        emit(text, output)
        if result.status != "optimal":
            err(f"{result.file}: {result.status}: {result.message}")
        return int(for_status(result.status))

    code = guarded(debug, body)
    raise typer.Exit(code)


def _solver_choice(solver: str | None) -> tuple[str, ...]:
    from ..solver.formulation.program import SOLVER_ORDER

    if solver is None:
        return SOLVER_ORDER
    name = solver.upper()
    if name not in SOLVER_ORDER:
        choices = ", ".join(s.lower() for s in SOLVER_ORDER)
        fail(ExitCode.BAD_INPUT, f"error: unknown solver {solver!r}; choose one of {choices}")
    return (name,)


@app.command()
def validate(
    specs: Annotated[list[str], typer.Argument(help="Spec files to check ('-' for stdin).")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text or json.")
    ] = "text",
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Check spec files without solving them (fast: does not load the solver)."""
    if format not in ("text", "json"):
        fail(ExitCode.BAD_INPUT, f"error: unknown format {format!r}; choose text or json")

    def body() -> int:
        code = ExitCode.OK
        report = []
        for source in specs:
            try:
                parsed = read_spec(source, max_size)
            except SpecError as exc:
                code = ExitCode.BAD_INPUT
                for line in spec_error_lines(exc):
                    err(line)
                report.append(
                    {
                        "file": source,
                        "valid": False,
                        "issues": [
                            {"key": i.key, "line": i.line, "message": i.message} for i in exc.issues
                        ],
                    }
                )
                continue
            n_actions, n_monitors = len(parsed.actions), len(parsed.all_monitors())
            report.append(
                {"file": source, "valid": True, "actions": n_actions, "monitors": n_monitors}
            )
            if format == "text":
                typer.echo(
                    f"{source}: ok ({plural(n_actions, 'action')}, {plural(n_monitors, 'monitor')})"
                )
        if format == "json":
            typer.echo(json.dumps(report, indent=2))
        return int(code)

    raise typer.Exit(guarded(debug, body))


@app.command()
def schema(output: OutputOption = None) -> None:
    """Print the JSON Schema of the spec format (for editors that validate TOML)."""
    emit(json.dumps(json_schema(), indent=2) + "\n", output)


# Commands with their own modules (each imports its heavy dependencies only when it runs).
from .commands import batch as cmd_batch
from .commands import check as cmd_check
from .commands import compare as cmd_compare
from .commands import explain as cmd_explain
from .commands import frontier as cmd_frontier
from .commands import report as cmd_report
from .commands import simulate as cmd_simulate
from .commands import sweep as cmd_sweep

for command in (
    cmd_batch.batch,
    cmd_check.check,
    cmd_simulate.simulate,
    cmd_sweep.sweep,
    cmd_frontier.frontier,
    cmd_compare.compare,
    cmd_explain.explain,
    cmd_report.report,
):
    app.command(name=command.__name__)(command)


#: Commands that start no worker processes or threads. Once such a command has finished and
#: its output is flushed, nothing is left to clean up, so the process ends at once: Python's
#: own shutdown (tearing down cvxpy, scipy and the solvers' modules) takes about 0.2 s, more
#: than solving a small spec. batch and check (process pools, Dask) shut down normally.
QUICK_EXIT = frozenset(
    {"solve", "validate", "schema", "sweep", "frontier", "compare", "explain", "report", "simulate"}
)


def main() -> None:
    """Console entry point."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in QUICK_EXIT:
        app()
        return
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if not isinstance(code, int):
        if code is not None:
            err(str(code))
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`deter ... | head`)
            stream.flush()
    os._exit(code)
