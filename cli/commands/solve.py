"""``deter solve``: the least-cost policy for one spec."""

from __future__ import annotations

import typer

from ...solver.results.errors import SpecError
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import (
    FormatOption,
    detail,
    emit,
    err,
    guarded,
    info,
    read_spec,
    solver_choice,
    stdout_is_colour_terminal,
    terminal_width,
)
from ..exit_codes import for_status
from ..options import (
    DebugOption,
    MaxSizeOption,
    NoTimingOption,
    OutputOption,
    SolverOption,
    SpecArgument,
)
from ..render.result import Format, error_json, render_result


def solve(
    spec: SpecArgument,
    format: FormatOption = Format.table,
    output: OutputOption = None,
    solver: SolverOption = None,
    no_timing: NoTimingOption = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Find the least-cost oversight policy that deters every misaligned action.

    Under objective = "min_loss" an action may be left undeterred on purpose (still exit 0).
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
        seconds = (result.timing or {}).get("total")
        if seconds is not None:
            detail(f"solved in {seconds:.3f} s")
        if solver is not None and result.solver and result.solver.upper() != solvers[0]:
            # a program with cones (CARA, exponential detection) only Clarabel solves
            info(f"note: --solver {solver.value}: this program was solved by {result.solver}")
        if result.status != "optimal":
            err(f"{result.file}: {result.status}: {result.message}")
        return int(for_status(result.status))

    code = guarded(debug, body)  # exit codes: see the help's epilogue (exit_codes.py)
    raise typer.Exit(code)
