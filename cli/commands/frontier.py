"""``deter frontier spec.toml``: Becker's probability-severity trade-off for a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import DebugOption, MaxSizeOption, OutputOption, SolverOption, SpecArgument
from ..render.sweep import SeriesFormat


def frontier(
    spec: SpecArgument,
    low: Annotated[
        float, typer.Option("--from", help="Smallest cap factor.", min=1e-6, max=1e6)
    ] = 0.25,
    high: Annotated[
        float, typer.Option("--to", help="Largest cap factor.", min=1e-6, max=1e6)
    ] = 4.0,
    points: Annotated[
        int,
        typer.Option("--points", help="Factors (log spaced; at most 10,000).", min=2, max=10_000),
    ] = 25,
    format: Annotated[
        SeriesFormat, typer.Option("--format", "-f", help="Output format.")
    ] = SeriesFormat.table,
    output: OutputOption = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the frontier to FILE.png or FILE.svg.")
    ] = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Becker's trade-off: least oversight cost and detection bought, across penalty caps.

    Every penalty cap is scaled from --from to --to times its value; the spec's own caps
    (factor 1) are always included and marked. Factors that cannot be met are reported, not
    fatal: the exit code is the worst factor's, as sweep's is the worst point's (0 every
    factor optimal; 1 some factor cannot be met; 3 some factor has no verified answer).
    """
    from ..common import (
        can_write,
        emit,
        fail,
        guarded,
        info,
        progress,
        read_spec,
        stdout_is_colour_terminal,
        terminal_width,
    )
    from ..exit_codes import ExitCode, for_points

    if low >= high:
        fail(ExitCode.BAD_INPUT, f"error: --from {low:g} must be below --to {high:g}")

    def body() -> int:
        from ...solver.problem import Problem
        from ...solver.report.figures import frontier_figure, write_plot
        from ..render.sweep import render_frontier

        problem = Problem(read_spec(spec, max_size), solvers=solver_choice(solver))
        if plot is not None:
            from .sweep import check_plot

            check_plot(plot, 1)
        can_write(output, plot)  # before solving: neither is written when one cannot be
        with progress("solving"):
            result = problem.frontier(points=points, low=low, high=high)
        emit(
            render_frontier(
                result,
                format,
                color=output is None and stdout_is_colour_terminal(),
                width=terminal_width(),
            ),
            output,
        )
        if plot is not None:  # after the table: a failed plot still leaves the numbers
            write_plot(frontier_figure(result), plot)
            info(f"wrote {plot}")
        return int(for_points(p.status for p in result.points))

    raise typer.Exit(guarded(debug, body))
