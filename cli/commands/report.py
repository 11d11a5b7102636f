"""``deter report spec.toml -o report.html``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..options import DebugOption, MaxSizeOption, SpecArgument


def report(
    spec: SpecArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
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
    debug: DebugOption = False,
) -> None:
    """Write a self-contained HTML report: problem, policy, explanation and plots.

    One file, no network needed to open it; the frontier and sweep plots are inline SVG.

    Exit codes as for solve: 0 optimal; 1 cannot be met (the report is still written);
    2 bad input; 3 no verified answer.
    """
    from ..common import err, fail, guarded, read_spec
    from ..exit_codes import ExitCode, for_status

    def body() -> int:
        from ... import __version__
        from ...solver.analysis.explain import explain
        from ...solver.analysis.frontier import run_frontier
        from ...solver.analysis.sweep import parse_vary, run_sweep
        from ...solver.engine.solve import solve
        from ..files import write_atomic
        from ..plots.figures import (
            PlotUnavailable,
            frontier_figure,
            svg_inline,
            sweep_figure,
        )
        from ..render.report import ReportParts, build_html, default_sweep_text

        parsed = read_spec(spec, max_size)
        texts = list(vary or [])
        if len(texts) > 2:
            fail(ExitCode.BAD_INPUT, "error: the report draws one or two --vary, not more")
        axes = [parse_vary(parsed, text, log) for text in texts]
        result = solve(parsed)
        explanation = explain(parsed, result)
        if not axes:
            default = default_sweep_text(parsed, result)
            axes = [parse_vary(parsed, default)] if default else []
        try:
            frontier = run_frontier(parsed)
            frontier_svg = svg_inline(frontier_figure(frontier))
            sweep = run_sweep(parsed, axes) if axes else None
            sweep_svg = svg_inline(sweep_figure(sweep)) if sweep is not None else None
        except PlotUnavailable as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        html = build_html(
            ReportParts(
                parsed, result, explanation, frontier, frontier_svg, sweep, sweep_svg, __version__
            )
        )
        write_atomic(output, html)
        err(f"wrote {output}")
        return int(for_status(result.status))

    raise typer.Exit(guarded(debug, body))
