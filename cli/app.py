"""The ``deter`` command line: the application, assembled from the command modules.

Solving imports cvxpy lazily, so ``--help``, ``--version``, ``validate`` and ``schema``
start fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from .commands import batch as cmd_batch
from .commands import check as cmd_check
from .commands import compare as cmd_compare
from .commands import experiment as cmd_experiment
from .commands import explain as cmd_explain
from .commands import export as cmd_export
from .commands import frontier as cmd_frontier
from .commands import report as cmd_report
from .commands import schema as cmd_schema
from .commands import simulate as cmd_simulate
from .commands import solve as cmd_solve
from .commands import sweep as cmd_sweep
from .commands import validate as cmd_validate
from .common import err

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


# Each command lives in its own module and imports its heavy dependencies only when it runs.
for command in (
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
    cmd_experiment.experiment,
):
    app.command(name=command.__name__)(command)


#: Commands that start no worker processes or threads. Once such a command has finished and
#: its output is flushed, nothing is left to clean up, so the process ends at once: Python's
#: own shutdown (tearing down cvxpy, scipy and the solvers' modules) takes about 0.2 s, more
#: than solving a small spec. batch and check (process pools, Dask) shut down normally.
QUICK_EXIT = frozenset(
    {
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
    }
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
