"""What every command shares: messages, exit, output, the guard that maps errors to codes.

Commands import from here (never from ``app.py``, which only assembles them), so the command
modules and the application form no import cycle.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from ..solver.results.errors import SpecError
from ..solver.spec.document import Spec
from ..solver.spec.loading import DEFAULT_MAX_BYTES, decode_spec_bytes, load_spec, parse_spec_text
from .exit_codes import ExitCode, for_error
from .files import write_atomic
from .render.result import Format, spec_error_lines

T = TypeVar("T")

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


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


def solver_choice(solver: str | None) -> tuple[str, ...]:
    from ..solver.formulation.program import SOLVER_ORDER

    if solver is None:
        return SOLVER_ORDER
    name = solver.upper()
    if name not in SOLVER_ORDER:
        choices = ", ".join(s.lower() for s in SOLVER_ORDER)
        fail(ExitCode.BAD_INPUT, f"error: unknown solver {solver!r}; choose one of {choices}")
    return (name,)
