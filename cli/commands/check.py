"""``deter check``: solve specs and hold the optimal policy to their ``[requirements]``.

CI gating: one line per failed requirement (file, requirement, measured value, limit),
the same output formats as ``deter batch``, and exit code 1 when any requirement fails.
The checking itself lives in ``deter.solver.analysis.requirements``.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from ...solver.analysis.requirements import RequirementOverrides
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..exit_codes import ExitCode
from ..options import DebugOption, MaxSizeOption, OutputOption, SolverOption
from ..render.batch import BatchFormat
from .batch import (
    AddressOption,
    BatchFormatOption,
    Executor,
    ExecutorOption,
    JobsOption,
    MaxFailuresOption,
    NoTimingOption,
    PathsArgument,
    ResumeOption,
    TimeoutOption,
    run_command,
)


def parse_rate_limits(items: list[str]) -> dict[str, float]:
    """``name=value`` pairs from ``--max-rate``; a malformed one is a usage error (exit 2)."""
    from .. import common as cli

    limits: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            ceiling = float(value)
        except ValueError:
            ceiling = math.nan
        if not sep or not name.strip() or not (0.0 <= ceiling <= 1.0):
            cli.fail(
                ExitCode.BAD_INPUT,
                f"error: --max-rate {item!r}: expected MONITOR=RATE with a rate in [0, 1]",
            )
        limits[name.strip()] = ceiling
    return limits


def check(
    paths: PathsArgument,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="Override requirements.max_cost.")
    ] = None,
    min_margin: Annotated[
        float | None,
        typer.Option("--min-margin", min=0, help="Override requirements.min_margin."),
    ] = None,
    max_rate: Annotated[
        list[str] | None,
        typer.Option(
            "--max-rate",
            metavar="MONITOR=RATE",
            help="Override a requirements.max_rate ceiling (repeatable).",
        ),
    ] = None,
    format: BatchFormatOption = BatchFormat.table,
    output: OutputOption = None,
    jobs: JobsOption = None,
    max_failures: MaxFailuresOption = None,
    resume: ResumeOption = None,
    timeout: TimeoutOption = None,
    solver: SolverOption = None,
    executor: ExecutorOption = Executor.local,
    address: AddressOption = None,
    no_timing: NoTimingOption = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Solve specs and check their [requirements]; exit 1 when any requirement fails.

    Requirements: max_cost, deter_all (default true; false under objective = "min_loss"),
    min_margin, max_rate = {monitor = rate}. Options on the command line override the files.
    """
    for value, name in ((max_cost, "--max-cost"), (min_margin, "--min-margin")):
        if value is not None and not math.isfinite(value):
            from .. import common as cli

            cli.fail(ExitCode.BAD_INPUT, f"error: {name} must be a finite number")
    overrides = RequirementOverrides(
        max_cost=max_cost, min_margin=min_margin, max_rate=parse_rate_limits(max_rate or [])
    )
    run_command(
        "check",
        paths,
        format=format,
        output=output,
        jobs=jobs,
        max_failures=max_failures,
        resume=resume,
        timeout=timeout,
        solver=solver,
        executor=executor,
        address=address,
        no_timing=no_timing,
        max_size=max_size,
        debug=debug,
        check=overrides,
    )


__all__ = ["check"]
