"""``deter report spec.toml -o report.html``: one self-contained HTML report (or Markdown,
``-o report.md``, with its plots as SVG files beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import DebugOption, DocumentFormat, MaxSizeOption, SolverOption, SpecArgument


def report(
    spec: SpecArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The file to write: HTML, or Markdown for a .md name (or --format).",
        ),
    ],
    fmt: Annotated[
        DocumentFormat | None,
        typer.Option(
            "--format",
            help="html (one self-contained file) or markdown (plots as SVG files in "
            "FILE's stem + '-figures' beside it); default: from FILE's suffix.",
        ),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="Sweep to draw (PATH=start:stop:points; one or two). "
            "Default: the gain of the most expensive action.",
        ),
    ] = None,
    log: Annotated[bool, typer.Option("--log", help="Space --vary ranges geometrically.")] = False,
    samples: Annotated[
        list[Path] | None,
        typer.Option(
            "--samples",
            help="Scored samples to measure a fitted spec's policy on (AI control: safety, "
            "usefulness, ROC-AUC, TPR, cost against auditing the top b%); default: the "
            "fit's own files, when found unchanged.",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="deter fit --calibration's JSON: the score thresholds (default: fit the "
            "samples again as the spec records).",
        ),
    ] = None,
    resamples: Annotated[
        int, typer.Option("--resamples", min=1, max=100_000, help="Bootstrap resamples.")
    ] = 200,
    tpr_fpr: Annotated[
        float,
        typer.Option(
            "--tpr-at-fpr", min=1e-6, max=0.999999, help="The false-positive rate of TPR at FPR."
        ),
    ] = 0.01,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a self-contained HTML report: problem, policy, explanation and plots.

    One file, no network needed to open it; the frontier and sweep plots are inline SVG.
    Markdown (-o report.md, or --format markdown) holds the same policy, explanation and
    metrics, its plots as SVG files in a folder beside it (report-figures/).
    A spec of ROC monitors from deter fit also gets AI control's metrics, measured on the
    scored samples (--samples, or the fit's own files): the policy against auditing the top
    b% of each monitor, with bootstrap intervals and a cost-safety plot
    (docs/ai-control.md). Exit codes as for solve (a spec that cannot be met still gets its
    report).
    """
    from ..common import err, fail, guarded, info, progress, read_spec
    from ..exit_codes import ExitCode, for_status

    markdown_suffix = output.suffix.lower() in (".md", ".markdown")
    kind = fmt or (DocumentFormat.markdown if markdown_suffix else DocumentFormat.html)

    def body() -> int:
        from ...solver.problem import Problem
        from ...solver.report.figures import PlotUnavailable

        problem = Problem(read_spec(spec, max_size), solvers=solver_choice(solver))
        texts = list(vary or [])
        if len(texts) > 2:
            fail(ExitCode.BAD_INPUT, "error: the report draws one or two --vary, not more")
        try:
            with progress("solving, explaining and drawing"):
                report = problem.report(
                    output if kind is DocumentFormat.html else None,
                    vary=texts,
                    log=log,
                    samples=samples or None,
                    calibration=calibration,
                    resamples=resamples,
                    fpr=tpr_fpr,
                )
        except PlotUnavailable as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        for section in report.sections:  # what the metrics could not use, never silent
            if "note" in section.data:
                err(f"note: {section.title}: not measured: {section.data['note']}")
            for reason, count in section.data.get("dropped", {}).items():
                err(f"note: {count} x {reason}")
        if kind is DocumentFormat.markdown:
            from ..render.report import write_markdown

            written = write_markdown(report, output)
            info(f"wrote {output}" + (f" and {len(written) - 1} figures" if written[1:] else ""))
        else:
            info(f"wrote {output}")
        return int(for_status(report.result.status))

    raise typer.Exit(guarded(debug, body))
