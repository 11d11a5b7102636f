"""``deter sweep``: solve a spec over a range or grid of values of its numeric fields."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import (
    DebugOption,
    MaxSizeOption,
    NoTimingOption,
    OutputOption,
    SolverOption,
    SpecArgument,
)
from ..render.sweep import SeriesFormat

VaryOption = Annotated[
    list[str],
    typer.Option(
        "--vary",
        help="PATH=start:stop:points or PATH=a,b,c, e.g. "
        "'actions.reward_hack.penalty_cap=10:200:40'. Repeat for a grid.",
    ),
]
LogOption = Annotated[bool, typer.Option("--log", help="Space start:stop ranges geometrically.")]
PlotOption = Annotated[
    Path | None,
    typer.Option("--plot", metavar="FILE", help="Also draw the sweep to FILE.png, .svg or .pdf."),
]


def sweep(
    spec: SpecArgument,
    vary: VaryOption,
    log: LogOption = False,
    format: Annotated[
        SeriesFormat, typer.Option("--format", "-f", help="Output format.")
    ] = SeriesFormat.table,
    output: OutputOption = None,
    plot: PlotOption = None,
    no_timing: NoTimingOption = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Solve SPEC at every value of one or more fields and tabulate cost, rates and what binds.

    Points where the set of binding actions changes are marked '*'; points that cannot be
    met are reported, not fatal: the exit code is the worst point's (0 every point optimal;
    1 some point cannot be met; 3 some point has no verified answer).
    """
    from ..common import (
        can_write,
        emit,
        guarded,
        info,
        progress,
        read_spec,
        stdout_is_colour_terminal,
        terminal_width,
    )
    from ..exit_codes import for_points

    def body() -> int:
        from ...solver.problem import Problem
        from ...solver.report.figures import sweep_figure, write_plot
        from ..render.sweep import render_sweep

        problem = Problem(read_spec(spec, max_size), solvers=solver_choice(solver))
        axes = problem.axes(*vary, log=log)  # bad paths and values fail before the plot check
        if plot is not None:
            check_plot(plot, len(axes))
        can_write(output, plot)  # before solving: neither is written when one cannot be
        points = math.prod(len(axis.values) for axis in axes)
        with progress("solving", points) as update:  # a bar on a terminal's stderr (not -q)
            result = problem.sweep(*axes, progress=update)
        emit(
            render_sweep(
                result,
                format,
                color=output is None and stdout_is_colour_terminal(),
                width=terminal_width(),
                timing=not no_timing,
            ),
            output,
        )
        if plot is not None:  # after the table: a failed plot still leaves the numbers
            write_plot(sweep_figure(result), plot)
            info(f"wrote {plot}")
        return int(for_points(p.status for p in result.points))

    raise typer.Exit(guarded(debug, body))


def check_plot(path: Path, axes: int) -> None:
    """Refuse an unusable --plot before solving anything."""
    from ...solver.report.figures import FORMATS, PlotUnavailable, require_matplotlib
    from ..common import fail
    from ..exit_codes import ExitCode

    if path.suffix.lower().lstrip(".") not in FORMATS:
        fail(ExitCode.BAD_INPUT, f"error: --plot {path}: write .png, .svg or .pdf")
    if axes > 2:
        fail(ExitCode.BAD_INPUT, f"error: --plot draws one or two varied values, not {axes}")
    try:
        require_matplotlib()
    except PlotUnavailable as exc:
        fail(ExitCode.BAD_INPUT, f"error: {exc}")
