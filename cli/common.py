"""What every command shares: messages, exit, output, the guard that maps errors to codes.

Commands import from here (never from ``app.py``, which only assembles them), so the command
modules and the application form no import cycle.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from ..solver.report.escape import one_line
from ..solver.report.files import check_output, input_scope, remember_input, write_atomic
from ..solver.results.errors import SpecError
from ..solver.spec.document import Spec
from ..solver.spec.loading import DEFAULT_MAX_BYTES, decode_spec_bytes, load_spec, parse_spec_text
from .exit_codes import ExitCode, for_error
from .options import Color, Solver, settings
from .options import envelope as envelope  # the JSON envelope, for the commands
from .options import json_text as json_text
from .render.result import Format, spec_error_lines

T = TypeVar("T")

#: The base of click's usage errors (``typer.BadParameter``, ``UsageError``) in the click
#: typer runs on: recent typer versions carry their own copy of click.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)

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


def info(message: str) -> None:
    """A note on stderr (``wrote FILE``, caveats, summaries); ``-q`` silences it."""
    if not settings.quiet:
        err(message)


def detail(message: str) -> None:
    """A detail on stderr shown only with ``-v`` (timing, the solver's attempts)."""
    if settings.verbose and not settings.quiet:
        err(message)


def colour_for(stream: Any) -> bool:
    """Colour on ``stream``: ``--color always``/``never``, or (``auto``) a terminal without
    ``NO_COLOR`` in the environment."""
    if settings.color is Color.always:
        return True
    if settings.color is Color.never:
        return False
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return bool(tty) and "NO_COLOR" not in os.environ


def stdout_is_colour_terminal() -> bool:
    return colour_for(sys.stdout)


#: The width output that is not a terminal is laid out for (a file, a pipe) when COLUMNS
#: is not set: wide enough that no table is stacked into records and no line wrapped.
UNLIMITED_WIDTH = 10_000


def terminal_width(stream: Any = None) -> int:
    """The width tables must fit: the terminal's own, else ``COLUMNS``, else unlimited.

    Never widened beyond a terminal (a narrower terminal gets stacked tables, not wrapped
    lines); at least 40, below which nothing reads well anyway. Output to a file or a pipe
    keeps every table's shape (``deter sweep ... > out.txt``), unless ``COLUMNS`` asks for a
    width.
    """
    stream = sys.stdout if stream is None else stream
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, AttributeError, ValueError):
        try:
            width = int(os.environ.get("COLUMNS", "") or UNLIMITED_WIDTH)
        except ValueError:
            width = UNLIMITED_WIDTH
    return max(40, width)


def shows_progress() -> bool:
    """A progress display on stderr: only on a terminal, and never with ``-q``."""
    if settings.quiet:
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A transient progress display on stderr while long work runs (``sweep``, ``frontier``,
    ``report``, ``experiment``; ``batch`` has its own): a bar when the work can count its
    steps (the yielded ``update(done, total)``), else a spinner with the time elapsed.
    Nothing at all with ``-q`` or when stderr is not a terminal (a log, a pipe, CI)."""
    if not shows_progress():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True, no_color=not colour_for(sys.stderr))
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta")]
        columns.append(TimeRemainingColumn())
    else:
        columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, redirect_stdout=False) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        yield update


def emit(text: str, output: Path | None) -> None:
    """Write the requested output to stdout (no ``-o``, or ``-o -``) or, atomically, to a
    file (``write_atomic``: never over a device, a folder or a spec the command read)."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)
        info(f"wrote {output}")


def can_write(*outputs: Path | None) -> None:
    """Raise the ``OSError`` a write to each output file would meet, before any work: its
    folder missing, or the path a folder, a device or a spec the command read (stdout,
    ``None`` or ``-``, always can). For commands that write more than one file, so that one
    of them is not written when another cannot be."""
    for output in outputs:
        if output is None or str(output) == "-":
            continue
        check_output(output)
        folder = Path(os.path.realpath(output)).parent
        if not folder.is_dir():
            raise OSError(errno.ENOENT, "No such file or directory", str(output))


def import_solver_stack() -> None:
    """Import cvxpy (and so its solvers) with Ctrl-C held until the import ends
    (``solver/formulation/solver_import.py`` says why)."""
    from ..solver.formulation.solver_import import import_solvers

    import_solvers()


def guarded(debug: bool, body: Callable[[], T]) -> T:
    """Run a command body: user errors become one-line messages and exit codes.

    Every command runs inside this guard (``app.py`` wraps each one; a command may also
    guard its own body). Every spec the body reads is remembered (``read_spec``) for the
    body's lifetime, so no output of the command can be written over it.
    """
    try:
        with input_scope():
            return body()
    except (typer.Exit, UsageError):  # a usage error a body raises is click's to show (2)
        raise
    except SpecError as exc:
        for line in spec_error_lines(exc):
            err(line)
        fail(for_error(exc))  # 2, or 4 for a valid spec this command does not support
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except ModuleNotFoundError as exc:  # an optional extra that is not installed: usage
        fail(ExitCode.BAD_INPUT, f"error: {missing_extra(exc)}")
    except OSError as exc:
        if exc.errno == errno.EPIPE and exc.filename is None:
            pipe_closed()
        fail(ExitCode.BAD_INPUT, f"error: {os_error_text(exc)}")
    except Exception as exc:  # deter's own bug: say so in one line, trace on request
        if debug:
            traceback.print_exc()
            sys.stderr.flush()
        fail(
            for_error(exc),
            f"internal error: {type(exc).__name__}: {one_line(str(exc))}"
            + ("" if debug else " (rerun with --debug)"),
        )


#: Hints for operating-system errors that are the environment's, not the input's.
_OS_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or use fewer --jobs",
    errno.ENFILE: "the system has too many open files",
}


def os_error_text(exc: OSError) -> str:
    """``PATH: reason`` for an operating-system error: the path the user gave when the error
    names one, else the reason alone (never an empty ``: reason``)."""
    reason = one_line(str(exc.strerror or exc))
    hint = _OS_HINTS.get(exc.errno or 0)
    if hint and hint not in reason.lower():
        reason = f"{reason} ({hint})"
    if exc.filename is None or str(exc.filename) == "":
        return reason
    return f"{one_line(str(exc.filename))}: {reason}"


def pipe_closed() -> NoReturn:
    """Standard output's reader went away (``deter ... | head -1``): stop quietly with
    :attr:`ExitCode.PIPE_CLOSED`, as a pipeline's writer does. stdout is pointed at
    ``/dev/null`` so that flushing it on the way out raises nothing more."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    raise typer.Exit(ExitCode.PIPE_CLOSED)


#: The extra of deter that installs each optional package (pyproject.toml).
EXTRAS = {
    "gymnasium": "rl",
    "stable_baselines3": "experiment",
    "torch": "experiment",
    "dask": "dask",
    "distributed": "dask",
    "pandas": "control",
    "pyarrow": "control",
    "inspect_ai": "inspect",
}


def missing_extra(exc: ModuleNotFoundError) -> str:
    """What to install for a missing optional package, in one line."""
    top = (exc.name or "").split(".")[0]
    if top == "matplotlib":  # a dependency, not an extra: the install is incomplete
        return (
            "this needs matplotlib, which deter depends on but is not installed: "
            "pip install matplotlib"
        )
    extra = EXTRAS.get(top)
    if extra is None:
        return f"a package deter needs is not installed: {one_line(str(exc))}"
    return f"this needs {top}, which is not installed: pip install 'deter[{extra}]'"


#: The template ``deter init`` writes when none is named.
DEFAULT_TEMPLATE = "starter"


def templates() -> dict[str, Traversable]:
    """Every template by name: ``starter`` first, then the bundled problems by stem."""
    found: dict[str, Traversable] = {
        DEFAULT_TEMPLATE: resources.files("deter.cli").joinpath("templates", "starter.toml")
    }
    try:
        problems = resources.files("deter.problems")
    except ModuleNotFoundError:  # an install without the bundled problems
        return found
    for folder, prefix in ((problems, ""), (problems.joinpath("infeasible"), "infeasible/")):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda t: t.name):
            if item.name.endswith(".toml") and item.is_file():
                found[prefix + item.name.removesuffix(".toml")] = item
    return found


def complete_template(incomplete: str) -> list[str]:
    """Shell completion of ``deter init``'s template names."""
    return [name for name in templates() if name.startswith(incomplete)]


def bundled_problem(source: str) -> tuple[str, Path] | None:
    """The bundled problem a spec argument names (``coding_agent``, ``coding_agent.toml``,
    ``problems/coding_agent.toml``, ``infeasible/over_budget``) when no such file exists, as
    (its template name, its file), so that a wheel-only user can run ``deter solve
    coding_agent`` (the README's examples name ``problems/...``, which only a clone of the
    repository has); None when it names none."""
    name = source.removesuffix(".toml").removeprefix("problems/")
    found = templates().get(name)
    if found is None or name == DEFAULT_TEMPLATE:
        return None
    path = Path(str(found))
    return (name, path) if path.is_file() else None


def missing_spec_hint(source: str) -> str:
    """What to try when a spec file does not exist: a bundled name it resembles, and
    ``deter init``."""
    from ..solver.spec.suggest import did_you_mean

    stem = Path(source).name.removesuffix(".toml")
    names = [n for n in templates() if n != DEFAULT_TEMPLATE]
    close = did_you_mean(stem, names)
    if close:  # ' (did you mean 'coding_agent'?)': a bundled problem, run by its name
        return f"no such file{close}; deter solve NAME runs a bundled problem"
    return (
        "no such file; deter init -o my.toml writes a starter spec, and deter init --list "
        "shows the bundled problems (deter solve NAME runs one)"
    )


def read_spec(source: str, max_size: int = DEFAULT_MAX_BYTES) -> Spec:
    if source == "-":
        data = sys.stdin.buffer.read(max_size + 1)
        if len(data) > max_size:
            raise SpecError.single("<stdin>", f"the spec is over the limit of {max_size:,} bytes")
        return parse_spec_text(decode_spec_bytes(data, "<stdin>"), file="<stdin>", name="stdin")
    path = Path(source)
    if not path.exists():
        bundled = bundled_problem(source)
        if bundled is None:
            raise SpecError.single(source, missing_spec_hint(source))
        name, path = bundled
        info(f"note: {source}: the bundled problem (deter init {name} -o FILE writes a copy)")
    spec = load_spec(path, max_bytes=max_size)
    remember_input(path)  # no output of this command may replace it
    return spec


def solver_choice(solver: Solver | str | None) -> tuple[str, ...]:
    from ..solver.formulation.program import SOLVER_ORDER

    if solver is None:
        return SOLVER_ORDER
    name = str(solver.value if isinstance(solver, Solver) else solver).upper()
    if name not in SOLVER_ORDER:
        choices = ", ".join(s.lower() for s in SOLVER_ORDER)
        fail(ExitCode.BAD_INPUT, f"error: unknown solver {solver!r}; choose one of {choices}")
    return (name,)
