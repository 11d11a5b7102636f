"""``deter compare a.toml b.toml``: two policies side by side, differences highlighted."""

from __future__ import annotations

from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import DebugOption, MaxSizeOption, OutputOption, SolverOption
from ..render.compare import CompareFormat


def compare(
    first: Annotated[str, typer.Argument(metavar="A", help="The old spec (TOML).")],
    second: Annotated[str, typer.Argument(metavar="B", help="The new spec (TOML).")],
    format: Annotated[
        CompareFormat,
        typer.Option("--format", "-f", help="Output format (markdown to paste into a review)."),
    ] = CompareFormat.table,
    output: OutputOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Compare two specs' optimal policies side by side, differences highlighted.

    Total cost, each monitor's rate and cost, and each action's detection and status.
    The exit code is the worse of the two specs' (whether or not they differ).
    """
    from ..common import emit, fail, guarded, read_spec, stdout_is_colour_terminal, terminal_width
    from ..exit_codes import ExitCode, for_status, worst

    if first == "-" and second == "-":
        fail(ExitCode.BAD_INPUT, "error: only one of A and B can be read from stdin")

    def body() -> int:
        from ...solver.problem import Problem
        from ..render.compare import render_comparison

        a = Problem(read_spec(first, max_size), solvers=solver_choice(solver))
        b = Problem(read_spec(second, max_size), solvers=solver_choice(solver))
        comparison = a.compare(b)
        emit(
            render_comparison(
                comparison,
                format,
                color=output is None and stdout_is_colour_terminal(),
                width=terminal_width(),
            ),
            output,
        )
        return int(worst([for_status(comparison.a.status), for_status(comparison.b.status)]))

    raise typer.Exit(guarded(debug, body))
