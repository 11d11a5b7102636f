"""``deter report spec.toml -o report.html``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import DebugOption, MaxSizeOption, SolverOption, SpecArgument


def report(
    spec: SpecArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")
    ],
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="Sweep to draw (PATH=start:stop:points; one or two). "
            "Default: the gain of the most expensive action.",
        ),
    ] = None,
    log: Annotated[bool, typer.Option("--log", help="Space --vary ranges geometrically.")] = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a self-contained HTML report: problem, policy, explanation and plots.

    One file, no network needed to open it; the frontier and sweep plots are inline SVG.
    Exit codes as for solve (a spec that cannot be met still gets its report).
    """
    from ..common import fail, guarded, info, progress, read_spec
    from ..exit_codes import ExitCode, for_status

    def body() -> int:
        from ...solver.problem import Problem
        from ...solver.report.figures import PlotUnavailable

        problem = Problem(read_spec(spec, max_size), solvers=solver_choice(solver))
        texts = list(vary or [])
        if len(texts) > 2:
            fail(ExitCode.BAD_INPUT, "error: the report draws one or two --vary, not more")
        try:
            with progress("solving, explaining and drawing"):
                report = problem.report(output, vary=texts, log=log)
        except PlotUnavailable as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        info(f"wrote {output}")
        return int(for_status(report.result.status))

    raise typer.Exit(guarded(debug, body))
