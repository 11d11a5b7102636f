"""``deter solve``: the least-cost policy for one spec."""

from __future__ import annotations

from typing import Annotated

import typer

from ...solver.results.errors import SpecError
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import (
    FormatOption,
    emit,
    err,
    guarded,
    read_spec,
    solver_choice,
    stdout_is_colour_terminal,
    terminal_width,
)
from ..exit_codes import for_status
from ..options import DebugOption, MaxSizeOption, OutputOption, SpecArgument
from ..render.result import Format, error_json, render_result


def solve(
    spec: SpecArgument,
    format: FormatOption = Format.table,
    output: OutputOption = None,
    solver: Annotated[
        str | None,
        typer.Option(
            "--solver",
            help="Use only this solver (highs or clarabel; programs "
            "with cones always use clarabel).",
        ),
    ] = None,
    no_timing: Annotated[
        bool, typer.Option("--no-timing", help="Leave timing out of JSON output.")
    ] = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Find the least-cost oversight policy that deters every misaligned action.

    Exit codes: 0 solved and every action deterred; 1 valid but cannot be met;
    2 bad input; 3 no verified answer.
    """

    def body() -> int:
        solvers = solver_choice(solver)
        try:
            parsed = read_spec(spec, max_size)
        except SpecError as exc:
            if format is Format.json:
                issues = [{"key": i.key, "line": i.line, "message": i.message} for i in exc.issues]
                emit(error_json(spec, "bad_input", str(exc.issues[0]), issues), output)
            raise
        from ...solver.problem import Problem

        result = Problem(parsed).solve(solvers=solvers)
        text = render_result(
            result,
            format,
            color=output is None and stdout_is_colour_terminal(),
            width=terminal_width(),
            timing=not no_timing,
        )
        emit(text, output)
        if result.status != "optimal":
            err(f"{result.file}: {result.status}: {result.message}")
        return int(for_status(result.status))

    code = guarded(debug, body)
    raise typer.Exit(code)
