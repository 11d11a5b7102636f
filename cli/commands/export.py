"""``deter export``: the optimal policy as a self-contained JSON policy document."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import emit, err, guarded, read_spec, solver_choice
from ..exit_codes import ExitCode, for_status
from ..options import DebugOption, MaxSizeOption, SolverOption, SpecArgument


class ExportSchedule(StrEnum):
    coordinated = "coordinated"
    independent = "independent"


def export(
    spec: SpecArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Write the policy document here (atomically); '-' for stdout."
        ),
    ],
    schedule: Annotated[
        ExportSchedule,
        typer.Option(
            "--schedule",
            help="How the runtime draws audits: coordinated (disjoint episodes; the model's "
            "linear detection) or independent (one coin per monitor).",
        ),
    ] = ExportSchedule.coordinated,
    label: Annotated[str, typer.Option("--label", help="A name for the policy.")] = "optimal",
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="deter fit --calibration's JSON: the score thresholds of the spec's ROC "
            "monitors, so the document says how to flag at each designed rate.",
        ),
    ] = None,
    solver: SolverOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Solve SPEC and write its optimal policy as a JSON policy document.

    The document holds everything deter.runtime.Auditor needs to run the policy without the
    solver (docs/runtime.md). It is a file format of its own ("format": "deter-policy",
    "version"; deter schema --policy), so it has no --format. ROC monitors (deter fit's
    specs) get their designed detection and, with --calibration, the two score thresholds
    that realise each rate; such a policy runs in the control loop and the Inspect approver
    (docs/ai-control.md).
    """

    def body() -> int:
        solvers = solver_choice(solver)
        parsed = read_spec(spec, max_size)
        from ...solver.engine.solve import solve as solve_spec
        from ...solver.policy.document import build_policy
        from ...solver.policy.roc import load_calibration_file

        fitted = None if calibration is None else load_calibration_file(str(calibration))
        result = solve_spec(parsed, solvers=solvers)
        if result.status != "optimal":
            err(f"error: {result.file}: {result.status}: {result.message}; no policy to export")
            return int(for_status(result.status))
        doc = build_policy(
            parsed,
            result,
            schedule=schedule.value,
            label=label,
            calibration=fitted,
            calibration_file=str(calibration),
        )
        emit(json.dumps(doc, indent=2) + "\n", None if str(output) == "-" else output)
        return int(ExitCode.OK)

    raise typer.Exit(guarded(debug, body))
