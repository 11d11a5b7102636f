"""The ``deter`` command line: the application, assembled from the command modules.

Solving imports cvxpy lazily, so ``--help``, ``--version``, ``validate`` and ``schema``
start fast.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from .commands import batch as cmd_batch
from .commands import check as cmd_check
from .commands import compare as cmd_compare
from .commands import experiment as cmd_experiment
from .commands import explain as cmd_explain
from .commands import export as cmd_export
from .commands import fit as cmd_fit
from .commands import frontier as cmd_frontier
from .commands import init as cmd_init
from .commands import report as cmd_report
from .commands import schema as cmd_schema
from .commands import simulate as cmd_simulate
from .commands import solve as cmd_solve
from .commands import sweep as cmd_sweep
from .commands import validate as cmd_validate
from .common import UsageError, err, guarded, import_solver_stack, pipe_closed
from .exit_codes import (
    ANY_COMMAND,
    COMMAND_CODES,
    ExitCode,
    codes_help,
    forget_unhandled_interrupt,
)
from .options import Color, ColorOption, DebugOption, QuietOption, VerboseOption, settings

app = typer.Typer(
    name="deter",
    help="Least-cost oversight that makes misaligned actions not pay "
    "(Becker's rational offender model, solved as a convex program). "
    "Start with: deter init -o my.toml && deter solve my.toml. " + codes_help(),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[requirements]" is a TOML table, not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from ..solver.report.html import package_version

        typer.echo(f"deter {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """deter: mechanism design for deterrence."""


#: Each command's one-line summary in ``deter --help`` (never cut: click would shorten the
#: first sentence of the docstring to fit).
SUMMARIES = {
    "init": "Write a commented starter spec (or a bundled example) to begin from.",
    "solve": "The least-cost oversight policy that deters every misaligned action.",
    "validate": "Check specs without solving (fast; files, folders, globs).",
    "schema": "The spec format's JSON Schema, for editors.",
    "batch": "Solve many specs in parallel; exit with the worst code.",
    "check": "Solve specs and hold them to their [requirements] (CI gate).",
    "simulate": "Play the policy against simulated (learning) agents.",
    "sweep": "Cost, rates and what binds across a range or grid of values.",
    "frontier": "Becker's trade-off: least cost against the penalty cap.",
    "compare": "Two specs' optimal policies side by side.",
    "explain": "Why the optimal policy is what it is, in plain language.",
    "report": "A self-contained HTML report with plots.",
    "export": "The optimal policy as a JSON document for the runtime.",
    "fit": "Scored trajectories (tables, Inspect logs) to a spec of ROC monitors.",
    "experiment": "Train learning agents under deter's policies (needs extras).",
}


class DeterCommand(TyperCommand):
    """A command whose help reads the classic way: ``deter solve [OPTIONS] SPEC``, and
    options with plain metavars (``N``, ``NUMBER``, ``FILE``, ``[table|json]``) rather than
    type names (``<int range>``, ``<list[str]>``)."""

    _plain = False

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        if not self._plain:
            self._plain = True
            for param in params:
                _plain_metavar(param, ctx)
        return params


def _plain_metavar(param: Any, ctx: Any) -> None:
    if param.param_type_name == "argument":
        name = param.metavar or param.name.upper()
        param.metavar = name
        dots = "..." if param.nargs != 1 else ""
        usage = name + dots if param.required else f"[{name}]{dots}"
        param._usage_display_name = lambda: usage
        param.display_type_rich = lambda ctx: None
        return
    if param.metavar is not None or getattr(param, "is_flag", False) or param.count:
        return
    try:
        shown = str(param.display_type(ctx)).strip("<>")
    except Exception:  # an unusual type: leave typer's own label
        return
    inner = shown.removeprefix("list[").removesuffix("]") if shown.startswith("list[") else shown
    plain = {
        "int": "N",
        "int range": "N",
        "float": "NUMBER",
        "float range": "NUMBER",
        "str": "TEXT",
        "Path": "PATH",
        "path": "PATH",
        "file": "FILE",
        "directory": "DIR",
    }
    if inner in plain:
        param.metavar = plain[inner]
    elif "|" in inner:
        param.metavar = f"[{inner}]"


#: Whether the running command's own code has started (a Ctrl-C before it is reported by
#: :func:`run`, after it by the guard).
_STARTED = False


def with_output_settings(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with ``-q/--quiet``, ``-v/--verbose``, ``--color`` and (where it has none)
    ``--debug`` added, run under the one error guard (:func:`~deter.cli.common.guarded`):
    whatever escapes a command becomes a one-line message and an exit code from the one table,
    never a traceback (``--debug`` shows the traceback of deter's own bugs)."""
    signature = inspect.signature(command, eval_str=True)  # the modules' annotations are text
    has_debug = "debug" in signature.parameters

    @functools.wraps(command)
    def run(
        *args: Any,
        quiet: bool = False,
        verbose: bool = False,
        color: Color = Color.auto,
        **kwargs: Any,
    ) -> None:
        global _STARTED
        _STARTED = True  # from here on the guard reports Ctrl-C itself
        settings.quiet, settings.verbose, settings.color = quiet, verbose, Color(color)
        debug = bool(kwargs.get("debug", False) if has_debug else kwargs.pop("debug", False))
        guarded(debug, lambda: _body(command, *args, **kwargs))

    keyword = inspect.Parameter.KEYWORD_ONLY
    extra = [
        inspect.Parameter("quiet", keyword, default=False, annotation=QuietOption),
        inspect.Parameter("verbose", keyword, default=False, annotation=VerboseOption),
        inspect.Parameter("color", keyword, default=Color.auto, annotation=ColorOption),
    ]
    if not has_debug:
        extra.append(inspect.Parameter("debug", keyword, default=False, annotation=DebugOption))
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]
    run.__signature__ = signature.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in [*params, *extra]}
    return run


#: Commands that solve, so import cvxpy: they import it first with Ctrl-C held
#: (:func:`import_solver_stack`), so that an interrupt in their first seconds is not lost.
#: ``batch`` and ``check`` are not here: they solve in worker processes, and import it so
#: only where they solve in their own (``solver/batch/run.py``); their start-up does not
#: wait for an import the workers' server makes anyway.
SOLVING = frozenset(
    {"solve", "simulate", "sweep", "frontier", "compare", "explain"}
    | {"report", "export", "experiment"}
)


def _body(command: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    if command.__name__ in SOLVING:
        import_solver_stack()
    command(*args, **kwargs)


# Each command lives in its own module and imports its heavy dependencies only when it runs.
for command in (
    cmd_init.init,
    cmd_solve.solve,
    cmd_validate.validate,
    cmd_schema.schema,
    cmd_batch.batch,
    cmd_check.check,
    cmd_simulate.simulate,
    cmd_sweep.sweep,
    cmd_frontier.frontier,
    cmd_compare.compare,
    cmd_explain.explain,
    cmd_report.report,
    cmd_export.export,
    cmd_fit.fit,
    cmd_experiment.experiment,
):
    app.command(
        name=command.__name__,
        cls=DeterCommand,
        short_help=SUMMARIES[command.__name__],
        epilog=codes_help(*COMMAND_CODES[command.__name__], *ANY_COMMAND),
    )(with_output_settings(command))


#: Commands that start no worker processes or threads. Once such a command has finished and
#: its output is flushed, nothing is left to clean up, so the process ends at once: Python's
#: own shutdown (tearing down cvxpy, scipy and the solvers' modules) takes about 0.2 s, more
#: than solving a small spec. batch and check (process pools, Dask) shut down normally.
QUICK_EXIT = frozenset(
    {
        "init",
        "solve",
        "validate",
        "schema",
        "sweep",
        "frontier",
        "compare",
        "explain",
        "report",
        "simulate",
        "export",
        "fit",
    }
)


#: How long a batch or check may take to shut down once its output is written and flushed.
EXIT_GRACE_SECONDS = 10.0


def run(argv: list[str] | None = None) -> int:
    """Run the application on ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    Click's own handling is bypassed (``standalone_mode=False``) so that what ends a run is
    mapped here, once, to the one table: usage errors 2, Ctrl-C 130 wherever it lands (while
    arguments are parsed too; click would say "Aborted!" and exit 1), a closed pipe 141.
    """
    global _STARTED
    _STARTED = False
    try:
        try:
            done = app(args=argv, prog_name="deter", standalone_mode=False)
        except typer.Exit as exit_:  # --help, --version (eager) before a command
            done = exit_.exit_code
        except UsageError as exc:
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        except (typer.Abort, KeyboardInterrupt):
            err("interrupted")
            return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # a --help or a usage message to a closed pipe
        with contextlib.suppress(BaseException):
            pipe_closed()
        return int(ExitCode.PIPE_CLOSED)
    except SystemExit as exit_:
        done = exit_.code
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click met a closed pipe
            return int(ExitCode.PIPE_CLOSED)
    if done == ExitCode.INTERRUPTED and not _STARTED:  # typer's own Ctrl-C while parsing
        err("interrupted")
    if done is None or isinstance(done, int):
        return int(done or 0)
    err(str(done))
    return 1


def main() -> None:
    """Console entry point."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    code = run()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`deter ... | head`)
            stream.flush()
    if command not in QUICK_EXIT:
        # What a run keeps is written and flushed by now; Python's own shutdown joins a process
        # pool's manager thread, which can wait forever when a worker died while the pool was
        # being stopped (seen under load: a batch stopped by Ctrl-C at 05:49 still waiting at
        # 06:21 in concurrent.futures' _python_exit). The shutdown gets a bounded grace.
        watchdog = threading.Timer(EXIT_GRACE_SECONDS, os._exit, args=(code,))
        watchdog.daemon = True
        watchdog.start()
        if code == ExitCode.INTERRUPTED:
            forget_unhandled_interrupt()  # 130 even if the interrupt passed through PyRun_String
        sys.exit(code)
    os._exit(code)
