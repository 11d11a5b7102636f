"""``deter explain spec.toml``: why the optimal policy is what it is, in plain language."""

from __future__ import annotations

from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..options import DebugOption, MaxSizeOption, OutputOption, SolverOption, SpecArgument
from ..render.explain import ExplainFormat


def explain(
    spec: SpecArgument,
    format: Annotated[
        ExplainFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExplainFormat.text,
    output: OutputOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Explain the optimal policy in plain language, from its solution and duals.

    Which actions bind and what they cost at the margin, what each monitor buys, which
    constraint to relax first and what 10% would save; for a spec that cannot be met, the
    smallest changes that would make it feasible. Exit codes as for solve.
    """
    from ..common import emit, guarded, read_spec, terminal_width
    from ..exit_codes import for_status

    def body() -> int:
        from ...solver.problem import Problem
        from ..render.explain import render_explanation

        explanation = Problem(read_spec(spec, max_size), solvers=solver_choice(solver)).explain()
        emit(render_explanation(explanation, format, width=min(terminal_width(), 100)), output)
        return int(for_status(explanation.status))

    raise typer.Exit(guarded(debug, body))
